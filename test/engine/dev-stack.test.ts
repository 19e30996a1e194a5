// The dev stack's life on a real Docker daemon: the graph the program declares (Pulumi.dev.yaml,
// with its own name prefix and host ports so it never meets a developer's real stack) realised by
// test/support/engine, hooks run through their serialised providers, then the scenarios users live
// through. Stand-in images (test/engine/images) run the official entrypoints over Debian's servers.
//
// Every component is realised: PostgreSQL (primary and replicas), the MongoDB replica set, Redis,
// InfluxDB, and the admin tools (mongo-express for real; pgAdmin as a uid-5050 stand-in).
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Docker from "dockerode";
import Redis from "ioredis";
import { MongoClient } from "mongodb";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DockerEngine, type OperationRecord, type UpResult } from "../support/engine/docker-engine";
import { DEV_STACK as STACK, devStackOverrides, removeLeftovers } from "../support/engine/dev-stack";
import { STAND_IN_SERVERS } from "../support/engine/images";
import { holdDockerDaemon } from "../support/engine/lock";
import { plain, ROOT } from "../support/pulumi";
import { waitUntil } from "../support/wait";

const PREFIX = "enginetest";
const docker = new Docker();
let overrides: Record<string, string>;
let engine: DockerEngine;
let first: UpResult;

async function stackVolumes(): Promise<string[]> {
  return ((await docker.listVolumes()).Volumes ?? []).map((v) => v.Name).filter((n) => n.startsWith(`${PREFIX}_`)).sort();
}

async function query<T = any>(uri: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: uri, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Whether a query on `uri` returns a row; false while the server cannot be reached yet. */
async function hasRow(uri: string, sql: string, params: unknown[] = []): Promise<boolean> {
  return query(uri, sql, params).then(
    (rows) => rows.length > 0,
    () => false,
  );
}

async function withMongo<T>(uri: string, work: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.close();
  }
}

/** `npm run verify -- --json` on the given outputs (the built tool, as npm runs it). */
function runVerify(outputs: Record<string, unknown>) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "engine-verify-")), "outputs.json");
  fs.writeFileSync(file, JSON.stringify(outputs), { mode: 0o600 });
  try {
    return spawnSync(process.execPath, [path.join(ROOT, "bin/tools/verify.js"), "--from-json", file, "--json", "--timeout-seconds", "10"], { encoding: "utf8" });
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

/** Bucket names a token may read, through the InfluxDB API. */
async function influxBuckets(url: string, token: string): Promise<string[]> {
  const reply = await fetch(`${url}/api/v2/buckets?org=trading-platform`, { headers: { authorization: `Token ${token}` } });
  if (!reply.ok) throw new Error(`GET /api/v2/buckets: ${reply.status} ${await reply.text()}`);
  return ((await reply.json()) as { buckets: Array<{ name: string }> }).buckets.map((b) => b.name).sort();
}

const touched = (ops: OperationRecord[]) => ops.filter((o) => o.operation !== "same").map((o) => `${o.operation} ${o.name}`).sort();
/** psql in a throwaway container of the PostgreSQL image on one of the stack's networks: where a service, or an intruder there, connects from. */
function psqlFrom(network: string, conninfo: string, sql: string) {
  const run = spawnSync("docker", ["run", "--rm", "--network", `${PREFIX}-${network}`, "--entrypoint", "psql", overrides.postgresImage, "-XAt", "-d", conninfo, "-c", sql], { encoding: "utf8" });
  return { ok: run.status === 0, out: `${run.stdout}${run.stderr}` };
}

/** A container's log, stdout and stderr together. */
const logText = (name: string) => execFileSync("sh", ["-c", `docker logs ${name} 2>&1`], { encoding: "utf8" });

/** Every container of the dev stack, by its name less the prefix. */
const SERVER_CONTAINERS = ["postgres", "postgres-replica-1", "mongodb", "mongodb-2", "mongodb-3", "redis", "influxdb", "pgadmin", "mongo-express"].map((n) => `${PREFIX}-${n}`);

/** uid:gid each container runs as: its image's own user. */
const IMAGE_USERS: Record<string, string> = { postgres: "999:999", mongodb: "999:999", redis: "999:999", influxdb: "1000:1000", pgadmin: "5050:0", "mongo-express": "1000:1000" };
/** CAP_NET_BIND_SERVICE (bit 10): pgAdmin's python carries it as a file capability. */
const NET_BIND_SERVICE = 1n << 10n;

/**
 * Every process of every container (its PID 1 and what runs beside it, read from /proc on the
 * host) runs as the image's user with no effective or permitted capability and no_new_privs; the
 * bounding set is empty but for pgAdmin's NET_BIND_SERVICE. Each secret file is the user's, mode
 * 0400: root in the container (docker exec -u 0) cannot read it, having no DAC_OVERRIDE.
 */
async function expectHardened(names: string[], run: UpResult["run"]) {
  for (const name of names) {
    const kind = name.slice(PREFIX.length + 1).replace(/-(replica-)?\d+$/, "");
    const user = IMAGE_USERS[kind];
    expect(user, name).toBeDefined();
    const container = docker.getContainer(name);
    const info = await container.inspect();
    expect(info.Config.User, name).toBe(user);
    expect(info.HostConfig.CapDrop, name).toEqual(["ALL"]);
    expect(info.HostConfig.SecurityOpt, name).toEqual(["no-new-privileges:true"]);
    const { Titles, Processes } = await container.top({ ps_args: "-o pid" });
    const pids = Processes.map((p: string[]) => Number(p[Titles.indexOf("PID")]));
    expect(pids, name).toContain(info.State.Pid);
    for (const pid of pids) {
      let status: string;
      try {
        status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      } catch {
        continue; // a healthcheck's process that ended meanwhile
      }
      const field = (key: string) => status.match(new RegExp(`^${key}:\\s+(.*)$`, "m"))![1].trim();
      expect(field("Uid").split(/\s+/), `${name} pid ${pid}`).toEqual(Array(4).fill(user.split(":")[0]));
      expect(field("Gid").split(/\s+/), `${name} pid ${pid}`).toEqual(Array(4).fill(user.split(":")[1]));
      expect([BigInt(`0x${field("CapEff")}`), BigInt(`0x${field("CapPrm")}`)], `${name} pid ${pid}`).toEqual([0n, 0n]);
      expect(BigInt(`0x${field("CapBnd")}`), `${name} pid ${pid}`).toBe(kind === "pgadmin" ? NET_BIND_SERVICE : 0n);
      expect(field("NoNewPrivs"), `${name} pid ${pid}`).toBe("1");
    }
    const resource = run.ofType("docker:index/container:Container").find((r) => plain(r.inputs).name === name)!;
    const secretFiles = plain(resource.inputs).uploads.filter((u: { owner?: string }) => u.owner !== undefined).map((u: { file: string }) => u.file);
    expect(secretFiles.length, name).toBeGreaterThan(0);
    for (const file of secretFiles) {
      expect(execFileSync("docker", ["exec", name, "stat", "-c", "%u:%g %a", file], { encoding: "utf8" }).trim(), `${name} ${file}`).toBe(`${user} 400`);
      const asRoot = spawnSync("docker", ["exec", "-u", "0", name, "cat", file], { encoding: "utf8" });
      expect({ status: asRoot.status, stderr: asRoot.stderr.trim() }, `${name} ${file} as root`).toEqual({ status: 1, stderr: `cat: ${file}: Permission denied` });
    }
  }
  // mongod's keyfile: the wrapper's 0400 copy in the member's tmpfs.
  for (const name of names.filter((n) => n.includes("mongodb"))) {
    expect(execFileSync("docker", ["exec", name, "stat", "-c", "%u %a", "/etc/mongo-keyfile", "/etc/mongo-keyfile/keyfile"], { encoding: "utf8" }).trim().split("\n"), name).toEqual(["999 700", "999 400"]);
  }
}

let release: (() => void) | undefined;

beforeAll(async () => {
  release = await holdDockerDaemon();
  overrides = await devStackOverrides(docker, PREFIX);
  await removeLeftovers(docker, PREFIX);
  engine = new DockerEngine(docker);
}, 1_200_000); // a new machine builds the Debian base and every stand-in first (about 4 minutes here)

afterAll(async () => {
  await engine?.destroy().catch(() => undefined);
  await removeLeftovers(docker, PREFIX);
  release?.();
}, 300_000);

describe(`dev stack on a real Docker daemon (${Object.values(STAND_IN_SERVERS).join("; ")})`, { timeout: 300_000 }, () => {
  test("1. up from nothing: every container healthy, every hook applied, the outputs' URIs connect", async () => {
    first = await engine.up(STACK, overrides);
    const created = first.operations.filter((o) => o.operation === "create").map((o) => o.name);
    expect(created).toEqual(
      expect.arrayContaining([
        "trading-postgres-primary", "trading-postgres-init", "trading-postgres-replica-1-slot", "trading-postgres-replica-1", "trading-postgres-replica-1-check",
        "trading-mongo-1", "trading-mongo-2", "trading-mongo-3", "trading-mongo-init", "trading-redis-server", "trading-redis-init", "trading-influxdb-server", "trading-influxdb-init", "trading-admin-tools-pgadmin", "trading-admin-tools-mongo-express",
      ]),
    );
    for (const name of SERVER_CONTAINERS) {
      const info = await docker.getContainer(name).inspect();
      expect(info.State.Health?.Status, name).toBe("healthy");
      // Published on loopback only.
      for (const bindings of Object.values(info.HostConfig.PortBindings ?? {}) as Array<Array<{ HostIp: string }>>) for (const b of bindings) expect(b.HostIp).toBe("127.0.0.1");
    }
    await expectHardened(SERVER_CONTAINERS, first.run);
    const uris = first.outputs.postgresUris.trading_platform;
    expect(await query(uris.owner, "SELECT count(*)::int AS n FROM strategies")).toEqual([{ n: expect.any(Number) }]);
    const [replicaRow] = await query(uris.replicas[0], "SELECT pg_is_in_recovery() AS standby, count(*)::int AS n FROM strategies");
    expect(replicaRow.standby).toBe(true);
    expect(first.outputs.postgresReplicas[0].streamingState).toBe("streaming");
    await expect(query(uris.replicas[0], "CREATE TABLE nope (id int)")).rejects.toThrow(/read-only/);

    // The superuser logs in from the host (the hooks, npm run verify) but from no container, on
    // either network, with its own password; replication only from the internal network.
    const superuserPassword = decodeURIComponent(new URL(first.outputs.adminConnections.postgres.primary).password);
    expect((await query(first.outputs.adminConnections.postgres.primary, "SELECT current_user AS u"))[0].u).toBe("postgres");
    for (const network of ["network", "db-network"]) {
      const attempt = psqlFrom(network, `host=postgres user=postgres password=${superuserPassword} dbname=postgres`, "SELECT 1");
      expect(attempt, network).toMatchObject({ ok: false, out: expect.stringMatching(/pg_hba\.conf rejects connection for host "[0-9.]+", user "postgres"/) });
    }
    // The running server (pid 1 after the wrapper's and the image's entrypoints exec'd) has no password in its environment.
    const serverPid = (await docker.getContainer(`${PREFIX}-postgres`).inspect()).State.Pid;
    const environ = fs.readFileSync(`/proc/${serverPid}/environ`, "utf8").split("\0");
    expect(environ.some((e) => e.startsWith("PGDATA=/var/lib/postgresql/"))).toBe(true); // the server's own
    // (The image's entrypoint exports an empty POSTGRES_PASSWORD: the wrapper left it nothing to read.)
    expect(environ.filter((e) => (e.startsWith("POSTGRES_PASSWORD") && e !== "POSTGRES_PASSWORD=") || e.includes(superuserPassword))).toEqual([]);
    // A wrong password shows which rule answered: reject before any password, or the password asked for.
    expect(psqlFrom("network", "host=postgres user=replicator password=wrong-password replication=true", "IDENTIFY_SYSTEM").out).toMatch(/rejects replication connection/);
    expect(psqlFrom("db-network", "host=postgres-internal user=replicator password=wrong-password replication=true", "IDENTIFY_SYSTEM").out).toMatch(/password authentication failed for user "replicator"/);
    // pgAdmin's own role, from the app network: reads every table, writes none.
    const toolsPassword: string = plain(first.run.byName("trading-postgres-init").inputs).adminToolsPassword;
    const tools = `host=postgres user=trading_admin_tools password=${toolsPassword} dbname=trading_platform`;
    expect(psqlFrom("network", tools, "SELECT count(*) > 0 FROM strategies")).toMatchObject({ ok: true, out: "t\n" });
    expect(psqlFrom("network", tools, "DELETE FROM strategies").out).toMatch(/permission denied for table strategies/);
    // The services' env names the service roles; from the app network a service role reads and writes
    // its tables but makes no table and touches no migration; the owner logs in from the host only;
    // the read-only role reads users but not their password hashes.
    const simulation = first.outputs.serviceEnv.inNetwork["trading-simulation"];
    expect(simulation.POSTGRES_USER).toBe("trading_results_app");
    const simulationConn = `host=${simulation.POSTGRES_HOST} user=${simulation.POSTGRES_USER} password=${simulation.POSTGRES_PASSWORD} dbname=${simulation.POSTGRES_DB}`;
    expect(psqlFrom("network", simulationConn, "SELECT current_user")).toMatchObject({ ok: true, out: "trading_results_app\n" });
    expect(new URL(first.outputs.serviceEnv.inNetwork["advanced-trading-platform"].DATABASE_URL).username).toBe("trading_platform_app");
    const service = uris.serviceInNetwork;
    expect(psqlFrom("network", service, "BEGIN; DELETE FROM strategies; ROLLBACK")).toMatchObject({ ok: true });
    expect(psqlFrom("network", service, "CREATE TABLE nope (id int)").out).toMatch(/permission denied for schema public/);
    expect(psqlFrom("network", service, "SELECT count(*) FROM schema_migrations").out).toMatch(/permission denied for table schema_migrations/);
    const ownerInNetwork = new URL(uris.owner);
    ownerInNetwork.host = `${first.outputs.postgresPrimary.network.host}:${first.outputs.postgresPrimary.network.port}`;
    expect(psqlFrom("network", ownerInNetwork.toString(), "SELECT 1").out).toMatch(/pg_hba\.conf rejects connection for host "[0-9.]+", user "trading_platform_owner"/);
    expect(psqlFrom("network", uris.readonlyInNetwork, "SELECT count(username) >= 0 FROM users")).toMatchObject({ ok: true, out: "t\n" });
    expect(psqlFrom("network", uris.readonlyInNetwork, "SELECT password_hash FROM users").out).toMatch(/permission denied for table users/);

    expect(first.outputs.mongoReplicaSet.memberStates.map((s: string) => s.split(" ")[1]).sort()).toEqual(["PRIMARY", "SECONDARY", "SECONDARY"]);
    await withMongo(first.outputs.mongoUris.appHost, async (client) => {
      const configs = client.db("trading_configs");
      expect(await configs.collection("simulator_configs").countDocuments()).toBeGreaterThan(0);
      await configs.collection("engine_test").insertOne({ kept: "across destroy" });
      await expect(client.db("admin").command({ replSetGetConfig: 1 })).rejects.toThrow(/not authorized/);
    });

    // The services' write token reads the stack's buckets; the operator token is the declared one.
    expect(await influxBuckets(first.outputs.influxdb.url, first.outputs.influxdbTokens.write)).toEqual(["market-data", "market-data-1h", "performance", "system-metrics", "trades"]);
    expect(await influxBuckets(first.outputs.influxdb.url, first.outputs.adminConnections.influxdb.token)).toEqual(expect.arrayContaining(["market-data", "trades"]));
    // The hook onboarded the server: no setup mode, so no CLI config with the operator token on the config volume.
    expect(spawnSync("docker", ["exec", `${PREFIX}-influxdb`, "test", "-e", "/etc/influxdb2/influx-configs"]).status).toBe(1);
    // The stand-in checked every request of the hook's onboarding and the rest against the contract.
    expect(logText(`${PREFIX}-influxdb`)).not.toContain("contract violation");

    // pgAdmin's wrapper ran as uid 5050 (the upload is 0755) and left the passfile libpq accepts.
    const passfile = "/var/lib/pgadmin/storage/admin_trading.example.com/pgpass";
    expect(execFileSync("docker", ["exec", `${PREFIX}-pgadmin`, "stat", "-c", "%u %a", passfile], { encoding: "utf8" }).trim()).toBe("5050 600");
    const pgpass = execFileSync("docker", ["exec", `${PREFIX}-pgadmin`, "cat", passfile], { encoding: "utf8" });
    expect(pgpass.split("\n").filter(Boolean).map((l) => l.split(":").slice(0, 4).join(":"))).toEqual(["postgres:5432:*:trading_admin_tools", "postgres-replica-1:5432:*:trading_admin_tools"]);
    // Why pgAdmin keeps NET_BIND_SERVICE in its bounding set: without it its python (setcap'd, as
    // in the image) does not even start; with it, under no-new-privileges, it starts and gains nothing.
    const python = (...flags: string[]) => spawnSync("docker", ["run", "--rm", "--user", "5050:0", "--cap-drop", "ALL", ...flags, "--entrypoint", "python3", overrides.pgadminImage, "-c", "print(open('/proc/self/status').read())"], { encoding: "utf8" });
    expect(python().stderr).toMatch(/Operation not permitted|permission denied/i);
    const capped = python("--cap-add", "NET_BIND_SERVICE", "--security-opt", "no-new-privileges:true");
    expect(capped.status, capped.stderr).toBe(0);
    expect(capped.stdout).toMatch(/CapEff:\s+0+\n/);
    // mongo-express: basic auth, then the replica set's databases.
    const { url, user } = first.outputs.adminTools.mongoExpress;
    expect((await fetch(url)).status).toBe(401);
    const page = await fetch(url, { headers: { authorization: `Basic ${Buffer.from(`${user}:${first.outputs.adminToolLogins.mongoExpress.password}`).toString("base64")}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("trading_configs");

    // npm run verify, on what `pulumi stack output --json --show-secrets` would print.
    const verify = runVerify(first.outputs);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    const report = JSON.parse(verify.stdout) as { ok: boolean; checks: Array<{ component: string; ok: boolean }> };
    expect(report.ok).toBe(true);
    expect(new Set(report.checks.map((c) => c.component))).toEqual(new Set(["postgres", "mongodb", "redis", "influxdb"]));

    const redis = new Redis(first.outputs.redisUrls.host, { lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false });
    await redis.connect();
    try {
      expect(await redis.get("system:trading_enabled")).not.toBeNull();
      await expect(redis.call("FLUSHALL")).rejects.toThrow(/NOPERM/);
    } finally {
      redis.disconnect();
    }
  });

  test("2. re-run with nothing changed: no resource changes, no hook runs", async () => {
    const again = await engine.up(STACK, overrides);
    expect(touched(again.operations)).toEqual([]);
  });

  test("3. the primary restarts: the replica reconnects and streams again, without a new base backup", async () => {
    const primaryUri = first.outputs.adminConnections.postgres.primary;
    await docker.getContainer(`${PREFIX}-postgres`).restart({ t: 30 });
    const marker = `restart-${Date.now()}`;
    await waitUntil(() => hasRow(primaryUri, "SELECT 1"), 60_000, () => "the primary did not come back after its restart", 250);
    await query(primaryUri, "CREATE TABLE IF NOT EXISTS engine_marker (v text)");
    await query(primaryUri, "INSERT INTO engine_marker VALUES ($1)", [marker]);
    const replicaUri = first.outputs.adminConnections.postgres.replicas[0];
    await waitUntil(() => hasRow(replicaUri, "SELECT v FROM engine_marker WHERE v = $1", [marker]), 60_000, () => "the marker never reached the replica", 250);
    const [slot] = await query(primaryUri, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", [`${PREFIX}_replica_1`]);
    expect(slot.active).toBe(true);
    expect(logText(`${PREFIX}-postgres-replica-1`).match(/base backup complete/g)).toHaveLength(1);
  });

  test("4. a replica's container and volume removed: the next up (with refresh) bootstraps it again and it streams", async () => {
    await docker.getContainer(`${PREFIX}-postgres-replica-1`).remove({ force: true });
    await docker.getVolume(`${PREFIX}_postgres_replica_1_data`).remove();
    const up = await engine.up(STACK, overrides, { refresh: true });
    expect(touched(up.operations)).toEqual(["create trading-postgres-replica-1", "create trading-postgres-replica-1-data", "update trading-postgres-replica-1-check"]);
    expect(up.outputs.postgresReplicas[0].streamingState).toBe("streaming");
    expect(logText(`${PREFIX}-postgres-replica-1`)).toMatch(/base backup complete/);
  });

  test("5. replicas 1 -> 2 -> 1: only replica resources change; the removed replica's slot is dropped", async () => {
    const primaryUri = first.outputs.adminConnections.postgres.primary;
    const primaryId = engine.idOf("trading-postgres-primary");
    const two = await engine.up(STACK, { ...overrides, postgresReplicas: "2" });
    // pgAdmin lists every server: it is re-created to show the new replica.
    expect(touched(two.operations)).toEqual(["create trading-postgres-replica-2", "create trading-postgres-replica-2-check", "create trading-postgres-replica-2-data", "create trading-postgres-replica-2-slot", "replace trading-admin-tools-pgadmin"]);
    expect(two.outputs.postgresReplicas.map((r: { streamingState: string }) => r.streamingState)).toEqual(["streaming", "streaming"]);
    const one = await engine.up(STACK, overrides);
    expect(touched(one.operations)).toEqual(["delete trading-postgres-replica-2", "delete trading-postgres-replica-2-check", "delete trading-postgres-replica-2-data", "delete trading-postgres-replica-2-slot", "replace trading-admin-tools-pgadmin"]);
    expect(engine.idOf("trading-postgres-primary")).toBe(primaryId);
    const slots = await query(primaryUri, "SELECT slot_name FROM pg_replication_slots ORDER BY slot_name");
    expect(slots.map((s) => s.slot_name)).toEqual([`${PREFIX}_replica_1`]);
  });

  test("6. destroy with retainData true, then up with freshly generated secrets: data still there, every credential works, every hook succeeds", async () => {
    const retained = { ...overrides, retainData: "true" };
    expect(touched((await engine.up(STACK, retained)).operations)).toEqual([]);
    const old = first.outputs;
    await query(old.adminConnections.postgres.primary, "CREATE TABLE IF NOT EXISTS engine_marker (v text)");
    await query(old.adminConnections.postgres.primary, "INSERT INTO engine_marker VALUES ('kept across destroy')");
    const oldRedis = new Redis(old.redisUrls.host, { lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false });
    await oldRedis.connect();
    await oldRedis.set("session:engine-test", "kept across destroy");
    oldRedis.disconnect();

    await engine.destroy();
    expect(await stackVolumes()).toEqual(
      [
        `${PREFIX}_mongodb_2_config`, `${PREFIX}_mongodb_2_data`, `${PREFIX}_mongodb_3_config`, `${PREFIX}_mongodb_3_data`, `${PREFIX}_mongodb_config`, `${PREFIX}_mongodb_data`,
        `${PREFIX}_postgres_data`, `${PREFIX}_postgres_replica_1_data`, `${PREFIX}_redis_data`, `${PREFIX}_influxdb_config`, `${PREFIX}_influxdb_data`, `${PREFIX}_pgadmin_data`,
      ].sort(),
    );

    // A new stack: empty state, so every RandomPassword (and the Mongo keyfile) is generated afresh.
    engine = new DockerEngine(docker);
    const up = await engine.up(STACK, retained);
    const fresh = up.outputs;
    expect(fresh.adminConnections.postgres.primary).not.toBe(old.adminConnections.postgres.primary);
    expect(fresh.postgresUris.trading_platform.owner).not.toBe(old.postgresUris.trading_platform.owner);
    expect(await query(fresh.adminConnections.postgres.primary, "SELECT v FROM engine_marker WHERE v = 'kept across destroy'")).toEqual([{ v: "kept across destroy" }]);
    await expect(query(old.adminConnections.postgres.primary, "SELECT 1")).rejects.toThrow(/password authentication failed/);
    expect(await query(fresh.postgresUris.trading_platform.owner, "SELECT count(*)::int AS n FROM strategies")).toEqual([{ n: expect.any(Number) }]);
    expect(await query(fresh.postgresUris.trading_results.readonly, "SELECT count(*)::int AS n FROM simulation_runs")).toEqual([{ n: expect.any(Number) }]);
    const replica = fresh.adminConnections.postgres.replicas[0];
    await waitUntil(() => hasRow(replica, "SELECT v FROM engine_marker WHERE v = 'kept across destroy'"), 60_000, () => "the kept marker is not on the retained replica", 250);
    expect(fresh.postgresReplicas[0].streamingState).toBe("streaming");
    expect(fresh.mongoUris.appHost).not.toBe(old.mongoUris.appHost);
    await withMongo(fresh.adminConnections.mongo.members[0], async (client) => {
      expect(await client.db("trading_configs").collection("engine_test").countDocuments({ kept: "across destroy" })).toBe(1);
    });
    await withMongo(fresh.mongoUris.appHost, async (client) => {
      expect(await client.db("trading_configs").collection("engine_test").countDocuments({ kept: "across destroy" })).toBe(1);
    });
    await expect(withMongo(old.adminConnections.mongo.members[0], (client) => client.db("admin").command({ ping: 1 }))).rejects.toThrow(/Authentication failed/);
    // InfluxDB: the old operator token is unknown to the new stack, so the hook signed in with the
    // new admin password; the services' tokens were found again, unchanged.
    expect(fresh.adminConnections.influxdb.token).not.toBe(old.adminConnections.influxdb.token);
    expect(fresh.influxdbTokens).toEqual(old.influxdbTokens);
    expect(await influxBuckets(fresh.influxdb.url, fresh.adminConnections.influxdb.token)).toEqual(expect.arrayContaining(["market-data", "trades"]));
    expect(logText(`${PREFIX}-influxdb`)).toContain("applying the declared password of admin to the existing bolt file");
    expect(logText(`${PREFIX}-influxdb`)).not.toContain("contract violation");
    const redis = new Redis(fresh.redisUrls.host, { lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false });
    await redis.connect();
    try {
      expect(await redis.get("session:engine-test")).toBe("kept across destroy");
    } finally {
      redis.disconnect();
    }
    expect(up.operations.filter((o) => o.type.startsWith("pulumi-nodejs:dynamic/")).map((o) => o.operation)).toEqual(expect.arrayContaining(["create"]));
    // On the kept volumes the servers run as their users just the same.
    await expectHardened(SERVER_CONTAINERS, up.run);
    first = up;
  });

  test("7. destroy with retainData false: no volume of the stack is left", async () => {
    expect(touched((await engine.up(STACK, overrides)).operations)).toEqual([]);
    await engine.destroy();
    expect(await stackVolumes()).toEqual([]);
    expect((await docker.listContainers({ all: true })).filter((c) => c.Names.some((n) => n.startsWith(`/${PREFIX}-`)))).toEqual([]);
  });
});
