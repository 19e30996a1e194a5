// The hooks reaching their servers through a Kubernetes port-forward (init/access.ts): the real
// @kubernetes/client-node against a local server that speaks the API server's port-forward protocol
// (test/support/kube-port-forward-server.ts), which forwards to real PostgreSQL, Redis and mongod
// servers and the InfluxDB contract stub. Each hook runs from the provider Pulumi serialised for the
// dev stack, with its Kubernetes input added: what `pulumi up` ships, loaded as it loads it.
// The hosts the hooks are given do not resolve here, so every byte went through the tunnels.
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { startInfluxStub, type InfluxStub } from "../support/influxdb-stub";
import { kubeconfigYaml, startPortForwardServer, type PortForwardServer } from "../support/kube-port-forward-server";
import { programKeyfile, startMembers, stopMembers, type MongoMember } from "../support/mongo";
import { removeServerDir, startPrimary, startReplica, type PgServer } from "../support/postgres";
import { mockPassword, plain, requireBuilt, runProgram, serializedHook, type ProgramRun, type SerializedHook } from "../support/pulumi";
import { startRedisFromUploads, type RedisTestServer } from "../support/redis";
import { reservedPort } from "../support/servers";
import { waitUntil } from "../support/wait";

const NAMESPACE = "trading";
const TOKEN = "port-forward-test-token";
const PROTOCOL = "v4.channel.k8s.io";

let run: ProgramRun;
const hooks: Record<string, SerializedHook> = {};
let primary: PgServer;
let replica: PgServer | undefined;
let redis: RedisTestServer;
let influx: InfluxStub;
let members: MongoMember[] = [];
let kube: PortForwardServer;
let elsewhere: PortForwardServer;
let kubeconfig: string;
/** The pods the port-forward server knows: "namespace/pod" -> container port -> local port. */
const pods: Record<string, Record<number, number>> = {};
/** Their labels: CloudNativePG's instance pods carry their role. */
const labels: Record<string, Record<string, string>> = {};
const notReady: string[] = [];
const PRIMARY_SELECTOR = { labels: "cnpg.io/cluster=trading-postgres,cnpg.io/instanceRole=primary" };
/** CloudNativePG's instance n, labelled with its role. */
const instance = (n: number, role: "primary" | "replica") => (labels[`${NAMESPACE}/trading-postgres-${n}`] = { "cnpg.io/cluster": "trading-postgres", "cnpg.io/instanceRole": role });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-port-forward-"));

/** A pod of the test namespace, through the kubeconfig's "trading" context (its current context is "elsewhere"). */
const target = (pod: string, overrides: Record<string, unknown> = {}) => ({ namespace: NAMESPACE, pod, context: "trading", kubeconfig, ...overrides });

const create = async (hook: string, inputs: Record<string, unknown>) => (await hooks[hook].provider.create({ ...structuredClone(hooks[hook].inputs), ...inputs })).outs;

const pgInit = (overrides: Record<string, unknown> = {}) =>
  create("trading-postgres-init", { host: "trading-postgres.trading.svc", port: 5432, connectTimeoutSeconds: 10, lockTimeoutSeconds: 30, kubernetes: target("trading-postgres-0"), ...overrides });
const redisInit = (overrides: Record<string, unknown> = {}) =>
  create("trading-redis-init", { host: "trading-redis.trading.svc", port: 6379, timeoutSeconds: 10, kubernetes: target("trading-redis-0"), ...overrides });

/** The requests the port-forward server saw, as "pod:port status protocol". */
const seen = (server: PortForwardServer) => server.requests.map((r) => `${r.namespace}/${r.pod}:${r.ports.join(",")} ${r.status}${r.protocol ? ` ${r.protocol}` : ""}`);

beforeAll(async () => {
  run = await runProgram("dev");
  for (const name of ["trading-postgres-init", "trading-postgres-replica-1-slot", "trading-postgres-replica-1-check", "trading-redis-init", "trading-influxdb-init", "trading-mongo-init"]) hooks[name] = serializedHook(run.byName(name));
  const keyfile = programKeyfile(run);
  [primary, redis, influx, members] = await Promise.all([
    startPrimary(hooks["trading-postgres-init"].inputs.superuserPassword, "port-forward"),
    startRedisFromUploads(plain(run.byName("trading-redis-server").inputs).uploads, "/usr/local/etc/redis/redis.conf", "/data"),
    startInfluxStub({ adminToken: mockPassword("trading-secrets-influxdb-admin-token", 64), org: "trading-platform", bucket: "market-data", retentionSeconds: 7 * 86400 }),
    startMembers(3, keyfile),
  ]);
  Object.assign(pods, {
    [`${NAMESPACE}/trading-postgres-0`]: { 5432: primary.port },
    [`${NAMESPACE}/trading-redis-0`]: { 6379: redis.port },
    [`${NAMESPACE}/trading-influxdb-0`]: { 8086: Number(new URL(influx.url).port) },
    // A pod whose server is down: nothing listens on the local port it maps to.
    [`${NAMESPACE}/trading-redis-down-0`]: { 6379: await reservedPort() },
    ...Object.fromEntries(members.map((m, i) => [`${NAMESPACE}/trading-mongodb-${i}`, { 27017: m.port }])),
  });
  // Two instances of a CloudNativePG cluster, both played by the same server: the request log shows which was reached.
  pods[`${NAMESPACE}/trading-postgres-1`] = { 5432: primary.port };
  pods[`${NAMESPACE}/trading-postgres-2`] = { 5432: primary.port };
  kube = await startPortForwardServer({ token: TOKEN, forbiddenTokens: ["token-without-rbac"], pods, labels, notReady });
  // Another cluster that knows the same pods: only the request log shows which context was used.
  elsewhere = await startPortForwardServer({ token: "elsewhere-token", pods });
  kubeconfig = kubeconfigYaml(
    [
      { name: "elsewhere", server: elsewhere.url, token: "elsewhere-token" },
      { name: "trading", server: kube.url, token: TOKEN, namespace: NAMESPACE },
    ],
    "elsewhere",
  );
}, 180_000);

beforeEach(() => {
  kube.requests = [];
  kube.lookups = [];
  elsewhere.requests = [];
});

afterAll(async () => {
  await kube?.close();
  await elsewhere?.close();
  await replica?.stop();
  if (replica) removeServerDir(replica);
  await primary?.stop();
  if (primary) removeServerDir(primary);
  await redis?.stop();
  if (redis) fs.rmSync(redis.dir, { recursive: true, force: true });
  await influx?.close();
  await stopMembers(members);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const asSuperuser = <T>(database: string, work: (c: Client) => Promise<T>): Promise<T> => primary.asSuperuser(database, work);

describe("PostgreSQL hooks through the port-forward", () => {
  test("the init hook creates roles, databases, schema and seed data on the pod's server, one tunnel per connection", async () => {
    const outs = await pgInit();
    expect(outs.migrations).toEqual({ trading_platform: ["0001"], trading_results: ["0001"] });
    expect(outs.appliedThisRun.trading_platform).toEqual(["migration 0001_initial_schema", "seed 0001_strategies"]);

    // What it did, seen on the server directly.
    await asSuperuser("trading_platform", async (c) => {
      const tables = (await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.tablename);
      expect(tables).toEqual(["positions", "schema_migrations", "strategies", "trades", "users"]);
      expect(Number((await c.query("SELECT count(*) FROM strategies")).rows[0].count)).toBe(4);
    });
    const owners = await asSuperuser("postgres", async (c) => (await c.query("SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname LIKE 'trading_%' ORDER BY 1")).rows);
    expect(owners).toEqual([
      { datname: "trading_platform", owner: "trading_platform_owner" },
      { datname: "trading_results", owner: "trading_results_owner" },
    ]);

    // The check up front, the superuser's session, one session per database: each its own port-forward.
    expect(seen(kube)).toEqual(Array(4).fill(`${NAMESPACE}/trading-postgres-0:5432 101 ${PROTOCOL}`));
    expect(kube.requests.every((r) => r.token === TOKEN)).toBe(true);
    expect(elsewhere.requests).toEqual([]);
    await waitUntil(async () => kube.open === 0, 5_000, () => `${kube.open} port-forwards still open after the hook`); // closed with its connections

    const again = await pgInit();
    expect(again.appliedThisRun).toEqual({ trading_platform: [], trading_results: [] });
  });

  test("the slot and replica-check hooks reach the primary and the replica through their own pods; the slot goes with the hook", async () => {
    const slotInputs = { host: "trading-postgres.trading.svc", port: 5432, connectTimeoutSeconds: 10, kubernetes: target("trading-postgres-0") };
    const slot = await create("trading-postgres-replica-1-slot", slotInputs);
    const slotName = hooks["trading-postgres-replica-1-slot"].inputs.slotName;
    const slots = () => asSuperuser("postgres", async (c) => (await c.query("SELECT slot_name FROM pg_replication_slots")).rows.map((r) => r.slot_name));
    expect(await slots()).toEqual([slotName]);

    const init = hooks["trading-postgres-init"].inputs;
    replica = await startReplica({ primary, slot: slotName, replicationUser: init.replicationRole, replicationPassword: init.replicationPassword });
    pods[`${NAMESPACE}/trading-postgres-replica-1-0`] = { 5432: replica.port };
    kube.requests = [];
    const check = await create("trading-postgres-replica-1-check", {
      primaryHost: "trading-postgres.trading.svc",
      primaryPort: 5432,
      primaryKubernetes: target("trading-postgres-0"),
      replicaHost: "trading-postgres-replica-1.trading.svc",
      replicaPort: 5432,
      replicaKubernetes: target("trading-postgres-replica-1-0"),
      timeoutSeconds: 20,
    });
    expect(check.streamingState).toBe("streaming");
    expect(new Set(seen(kube))).toEqual(new Set([`${NAMESPACE}/trading-postgres-0:5432 101 ${PROTOCOL}`, `${NAMESPACE}/trading-postgres-replica-1-0:5432 101 ${PROTOCOL}`]));

    // Another pod means another primary: the slot is replaced there. A new kubeconfig (rotated credentials) is no reason to.
    const provider = hooks["trading-postgres-replica-1-slot"].provider;
    const moved = await provider.diff(slotName, slot, { ...slot, kubernetes: target("trading-postgres-1") });
    expect(moved).toMatchObject({ changes: true, replaces: ["kubernetes"], deleteBeforeReplace: true });
    const rotated = await provider.diff(slotName, slot, { ...slot, kubernetes: target("trading-postgres-0", { kubeconfig: `${kubeconfig}\n# rotated\n` }) });
    expect(rotated).toMatchObject({ changes: true, replaces: [] });

    await replica.stop();
    removeServerDir(replica);
    replica = undefined;
    kube.requests = [];
    await provider.delete(slotName, slot);
    expect(await slots()).toEqual([]);
    expect(seen(kube)).toContain(`${NAMESPACE}/trading-postgres-0:5432 101 ${PROTOCOL}`);
  });

  test("the tunnel carries many connections at once, each its own port-forward, and large results intact", async () => {
    const { withAccess } = requireBuilt("init/access.js");
    const access = { host: "trading-postgres.trading.svc", port: 5432, kubernetes: target("trading-postgres-0") };
    const password = hooks["trading-postgres-init"].inputs.superuserPassword;
    kube.maxOpen = 0;
    const results = await withAccess(access, async (server: { host: string; port: number }) =>
      Promise.all(
        Array.from({ length: 25 }, async (_, i) => {
          const client = new Client({ host: server.host, port: server.port, user: "postgres", password, database: "postgres" });
          await client.connect();
          try {
            // Sleeps keep all 25 sessions open together.
            const { rows } = await client.query("SELECT pg_backend_pid() AS pid, $1::int AS i, repeat(md5($1::text), 65536) AS big, pg_sleep(0.5)", [i]);
            return rows[0];
          } finally {
            await client.end();
          }
        }),
      ),
    );
    expect(new Set(results.map((r: { pid: number }) => r.pid)).size).toBe(25);
    for (const r of results) expect(r.big).toBe(createHash("md5").update(String(r.i)).digest("hex").repeat(65536)); // 2 MiB each, in many frames
    expect(kube.maxOpen).toBeGreaterThanOrEqual(25);
    expect(kube.requests.filter((r) => r.status === 101)).toHaveLength(26); // and the check up front
  });
});

describe("a pod found by its labels (CloudNativePG's primary)", () => {
  const byLabels = (overrides: Record<string, unknown> = {}) => ({ namespace: NAMESPACE, selector: PRIMARY_SELECTOR, context: "trading", kubeconfig, ...overrides });

  test("each run reaches the pod that is primary when it runs: after a failover, the next run follows the label", async () => {
    instance(1, "primary");
    instance(2, "replica");
    await pgInit({ kubernetes: byLabels() });
    expect(new Set(seen(kube))).toEqual(new Set([`${NAMESPACE}/trading-postgres-1:5432 101 ${PROTOCOL}`]));
    expect(kube.lookups.every((l) => l.selector === PRIMARY_SELECTOR.labels && l.status === 200)).toBe(true);
    // One lookup per connection: a client that reconnects after a failover asks again.
    expect(kube.lookups.length).toBe(kube.requests.length);

    kube.requests = [];
    instance(1, "replica");
    instance(2, "primary");
    const again = await pgInit({ kubernetes: byLabels() });
    expect(again.appliedThisRun).toEqual({ trading_platform: [], trading_results: [] });
    expect(new Set(seen(kube))).toEqual(new Set([`${NAMESPACE}/trading-postgres-2:5432 101 ${PROTOCOL}`]));
  });

  test("no ready primary (a failover in progress): the hook waits, and goes on once one is labelled and ready", async () => {
    instance(1, "replica");
    instance(2, "primary");
    notReady.push(`${NAMESPACE}/trading-postgres-2`);
    const promoted = setTimeout(() => {
      instance(1, "primary");
      instance(2, "replica");
    }, 1_500);
    try {
      const outs = await pgInit({ connectTimeoutSeconds: 20, kubernetes: byLabels() });
      expect(outs.migrations).toEqual({ trading_platform: ["0001"], trading_results: ["0001"] });
    } finally {
      clearTimeout(promoted);
      notReady.length = 0;
    }
    expect(new Set(seen(kube))).toEqual(new Set([`${NAMESPACE}/trading-postgres-1:5432 101 ${PROTOCOL}`]));
    expect(kube.lookups.length).toBeGreaterThan(kube.requests.length); // asked while there was none
  });

  test("none ever: the hook's time runs out, and it says no pod with those labels was ready", async () => {
    instance(1, "replica");
    instance(2, "replica");
    await expect(pgInit({ connectTimeoutSeconds: 2, kubernetes: byLabels() })).rejects.toThrow(
      /no ready pod labelled cnpg\.io\/cluster=trading-postgres,cnpg\.io\/instanceRole=primary in namespace trading/,
    );
    expect(kube.requests).toEqual([]);
  });

  test("n-th of several: the replicas in name order", async () => {
    instance(1, "primary");
    instance(2, "replica");
    labels[`${NAMESPACE}/trading-postgres-3`] = { "cnpg.io/cluster": "trading-postgres", "cnpg.io/instanceRole": "replica" };
    pods[`${NAMESPACE}/trading-postgres-3`] = { 5432: primary.port };
    const { withAccess } = requireBuilt("init/access.js");
    const replicas = "cnpg.io/cluster=trading-postgres,cnpg.io/instanceRole=replica";
    for (const [index, pod] of [[0, "trading-postgres-2"], [1, "trading-postgres-3"]] as const) {
      const label = await withAccess({ host: "trading-postgres-ro", port: 5432, kubernetes: byLabels({ selector: { labels: replicas, index } }) }, async (server: { label: string }) => server.label);
      expect(label).toBe(`${NAMESPACE}/${pod}:5432`);
    }
    // A third is not there (yet): worth waiting for, as for a server that starts; the tunnel says why.
    const why = await withAccess({ host: "x", port: 5432, kubernetes: byLabels({ selector: { labels: replicas, index: 2 } }) }, async (server: { tunnelError(): string }) => server.tunnelError());
    expect(why).toMatch(/no ready pod labelled cnpg\.io\/cluster=trading-postgres,cnpg\.io\/instanceRole=replica in namespace trading to be number 3 \(2 ready\)/);
    delete pods[`${NAMESPACE}/trading-postgres-3`];
  });

  test("RBAC without list on pods fails at once, saying so", async () => {
    const withToken = kubeconfigYaml([{ name: "trading", server: kube.url, token: "token-without-rbac" }]);
    await expect(pgInit({ kubernetes: byLabels({ kubeconfig: withToken, context: undefined }) })).rejects.toThrow(
      /port-forward to the pod labelled cnpg\.io\/cluster=trading-postgres,cnpg\.io\/instanceRole=primary in namespace trading, port 5432: .*forbids it \(403 Forbidden\): .*get and list on pods in namespace trading/,
    );
    expect(kube.lookups.map((l) => l.status)).toEqual([403]);
  });
});

describe("Redis, InfluxDB and MongoDB hooks through the port-forward", () => {
  test("the Redis hook seeds the pod's server", async () => {
    const seeds: Array<{ key: string; value: string }> = hooks["trading-redis-init"].inputs.seeds;
    const outs = await redisInit();
    expect(outs.seededThisRun).toEqual(seeds.map((s) => s.key));
    const admin = await redis.client(hooks["trading-redis-init"].inputs.user, hooks["trading-redis-init"].inputs.password);
    try {
      for (const s of seeds) expect(await admin.get(s.key)).toBe(s.value);
    } finally {
      admin.disconnect();
    }
    expect(new Set(seen(kube))).toEqual(new Set([`${NAMESPACE}/trading-redis-0:6379 101 ${PROTOCOL}`]));
    expect((await redisInit()).keptExisting).toEqual(seeds.map((s) => s.key));
  });

  test("the InfluxDB hook sends its HTTP requests through the pod's port from its URL", async () => {
    const outs = await create("trading-influxdb-init", { url: "http://trading-influxdb.trading.svc:8086", timeoutSeconds: 10, kubernetes: target("trading-influxdb-0") });
    expect(Object.keys(outs.tokenValues).sort()).toEqual(["read", "write"]);
    expect(influx.buckets.map((b) => b.name)).toContain("market-data-1h");
    expect(influx.violations).toEqual([]);
    expect(influx.requests.length).toBeGreaterThan(5);
    expect(new Set(seen(kube))).toEqual(new Set([`${NAMESPACE}/trading-influxdb-0:8086 101 ${PROTOCOL}`]));
  });

  test("the MongoDB hook initiates the set and reaches each member through its own pod, also as __system", async () => {
    const base = {
      members: members.map((m, i) => ({ _id: i, host: `127.0.0.1:${m.port}`, priority: i === 0 ? 2 : 1 })), // how the members reach each other
      clientEndpoints: members.map((_, i) => ({ host: `trading-mongodb-${i}.trading-mongodb.trading.svc`, port: 27017, kubernetes: target(`trading-mongodb-${i}`) })),
      timeoutSeconds: 90,
    };
    const outs = await create("trading-mongo-init", base);
    expect(outs).toMatchObject({ initiated: true, appliedThisRun: ["migration 0001_collections", "seed 0001_defaults"], usersChanged: ["created trading_app", "created trading_readonly", "created trading_admin_tools"] });
    expect(outs.memberStates).toHaveLength(3);
    expect(outs.memberStates.filter((s: string) => s.endsWith(" PRIMARY"))).toHaveLength(1);
    const used = new Set(kube.requests.map((r) => `${r.pod}:${r.ports.join(",")} ${r.status}`));
    expect(used).toEqual(new Set(members.map((_, i) => `trading-mongodb-${i}:27017 101`)));

    const login = async (user: string, password: string) => {
      const hosts = members.map((m) => `127.0.0.1:${m.port}`).join(",");
      const client = new MongoClient(`mongodb://${user}:${password}@${hosts}/?replicaSet=rs0&authSource=admin`, { serverSelectionTimeoutMS: 10000 });
      try {
        await client.db("trading_configs").command({ ping: 1 });
        return "ok";
      } catch (error) {
        return (error as { code?: number }).code;
      } finally {
        await client.close();
      }
    };
    expect(await login("trading_app", mockPassword("trading-secrets-mongo-app-password", 32))).toBe("ok");

    // A root password the set does not know: set through __system with the key, through the tunnel.
    const declared = "Declared0Root0Password0Through0A0Tunnel";
    expect((await create("trading-mongo-init", { ...base, rootPassword: declared })).rootReset).toBe(true);
    expect(await login("root", declared)).toBe("ok");
    expect((await create("trading-mongo-init", base)).rootReset).toBe(true);
    expect(await login("root", mockPassword("trading-secrets-mongo-root-password", 32))).toBe("ok");

    // A member's pod gone (being recreated, or Pending): the formed set goes on with a majority,
    // and the run says which member it could not reach; so does an update that only checks access.
    const gone = `${NAMESPACE}/trading-mongodb-2`;
    const kept = pods[gone];
    delete pods[gone];
    try {
      const withTwo = await create("trading-mongo-init", base);
      expect(withTwo.unreachable).toEqual([expect.stringMatching(/found no pod trading-mongodb-2 in namespace trading \(404 Not Found\)/)]);
      expect(withTwo.appliedThisRun).toEqual([]);
      // The same work (an update whose inputs differ at most in credentials): only the access check, which a majority passes.
      const hook = hooks["trading-mongo-init"];
      kube.requests = [];
      const updated = await hook.provider.update("rs0", withTwo, { ...structuredClone(hook.inputs), ...base });
      expect(updated.outs.workFingerprint).toBe(withTwo.workFingerprint);
      expect(kube.requests.filter((r) => r.status === 101)).toHaveLength(2);
      // Two of three gone: no majority, and it says so.
      const alsoGone = `${NAMESPACE}/trading-mongodb-1`;
      const second = pods[alsoGone];
      delete pods[alsoGone];
      try {
        await expect(create("trading-mongo-init", base)).rejects.toThrow(/only 1 of 3 members can be reached, no majority: .*trading-mongodb-1.*trading-mongodb-2/);
      } finally {
        pods[alsoGone] = second;
      }
    } finally {
      pods[gone] = kept;
    }
  }, 180_000);

  test("npm run forward: MongoDB member 1's local port reaches whichever member is primary, so the host URI's writes follow an election", async () => {
    const { reachStack } = requireBuilt("tools/reach.js");
    const rootPassword = mockPassword("trading-secrets-mongo-root-password", 32);
    const local = { pg: await reservedPort(), redis: await reservedPort(), influx: await reservedPort(), mongo: await Promise.all(members.map(() => reservedPort())) };
    const pod = (name: string, port: number) => ({ host: `${name}.trading.svc`, port, kubernetes: target(name) });
    const memberUri = (port: number) => `mongodb://root:${rootPassword}@127.0.0.1:${port}/admin?directConnection=true&authSource=admin`;
    const connections = {
      postgres: { primary: `postgresql://postgres:unused@127.0.0.1:${local.pg}/postgres`, replicas: [] },
      mongo: { members: local.mongo.map(memberUri) },
      redis: { url: `redis://admin:unused@127.0.0.1:${local.redis}/0` },
      influxdb: { url: `http://127.0.0.1:${local.influx}`, token: "unused" },
      access: {
        postgres: { primary: pod("trading-postgres-0", 5432), replicas: [] },
        mongo: { members: members.map((_, i) => pod(`trading-mongodb-${i}`, 27017)) },
        redis: pod("trading-redis-0", 6379),
        influxdb: pod("trading-influxdb-0", 8086),
      },
    };
    const forwarded = await reachStack(connections, { localPorts: true, followMongoPrimary: true });
    // The host URI: direct, to member 1's port, as the stack's outputs give it.
    const client = new MongoClient(memberUri(local.mongo[0]), { serverSelectionTimeoutMS: 20_000 });
    const reachedMember = async () => (await client.db("admin").command({ isMaster: 1 })).me as string;
    const write = (n: number) => client.db("forward_routing").collection("writes").insertOne({ n }, { writeConcern: { w: "majority" } });
    const direct = new MongoClient(`mongodb://root:${rootPassword}@127.0.0.1:${members[0].port}/admin?directConnection=true&authSource=admin`);
    try {
      expect([...forwarded.labels.values()]).toContain("the replica set's primary, whichever member (trading/trading-mongodb-0:27017, trading/trading-mongodb-1:27017, trading/trading-mongodb-2:27017)");
      await waitUntil(async () => (await reachedMember()) === `127.0.0.1:${members[0].port}`, 60_000, () => "member 1 never became primary again", 500);
      await write(1);

      // Member 1 steps down and may not stand again for a minute: another member is elected.
      await direct.db("admin").command({ replSetStepDown: 60, secondaryCatchUpPeriodSecs: 10 }).catch(() => undefined); // it closes its connections
      // The same client, the same URI: once elected, the new primary takes the writes.
      await waitUntil(() => write(2).then(() => true, () => false), 60_000, () => "no write went through after the step-down", 250);
      expect(await reachedMember()).not.toBe(`127.0.0.1:${members[0].port}`);
      // Where a plain tunnel to member 1 would have led: a secondary, which refuses the write.
      await expect(direct.db("forward_routing").collection("writes").insertOne({ n: 3 })).rejects.toThrow(/not master|NotWritablePrimary|not primary/i);
      expect(await client.db("forward_routing").collection("writes").countDocuments({})).toBe(2);
    } finally {
      await direct.db("admin").command({ replSetFreeze: 0 }).catch(() => undefined); // member 1 may stand again
      await client.close();
      await direct.close();
      await forwarded.close();
    }
  }, 180_000);
});

describe("credentials that rotate (a kubeconfig whose token is issued per run)", () => {
  test("a new token alone: the hooks only check that it is let in, keep the new kubeconfig, and a later delete uses it; another cluster runs them again", async () => {
    const rbac = { token: "token-of-monday", pods };
    const cluster = await startPortForwardServer(rbac);
    const kubeconfigFor = (token: string, server = cluster.url) => kubeconfigYaml([{ name: "trading", server, token, namespace: NAMESPACE }]);
    const onPrimary = (kc: string) => ({ namespace: NAMESPACE, pod: "trading-postgres-0", context: "trading", kubeconfig: kc });
    const slots = () => asSuperuser("postgres", async (c) => (await c.query("SELECT slot_name FROM pg_replication_slots")).rows.map((r) => r.slot_name));
    try {
      const { provider, inputs } = hooks["trading-postgres-replica-1-slot"];
      const slotInputs = (kc: string) => ({ ...structuredClone(inputs), host: "trading-postgres.trading.svc", port: 5432, connectTimeoutSeconds: 10, kubernetes: onPrimary(kc) });
      const monday = (await provider.create(slotInputs(kubeconfigFor("token-of-monday")))).outs;
      expect(await slots()).toEqual([inputs.slotName]);

      rbac.token = "token-of-tuesday"; // Monday's token is refused from now on
      const tuesday = slotInputs(kubeconfigFor("token-of-tuesday"));
      expect(await provider.diff(inputs.slotName, monday, tuesday)).toMatchObject({ changes: true, replaces: [] });
      cluster.requests = [];
      const updated = (await provider.update(inputs.slotName, monday, tuesday)).outs;
      // One port-forward, the check that Tuesday's token is let in; the primary sees no query.
      expect(cluster.requests.map((r) => [r.token, r.status])).toEqual([["token-of-tuesday", 101]]);
      expect(updated.kubernetes.kubeconfig).toContain("token-of-tuesday");
      expect(updated.workFingerprint).toBe(monday.workFingerprint);
      expect(await provider.diff(inputs.slotName, updated, tuesday)).toMatchObject({ changes: false });

      // A delete gets only the outputs: with Monday's it could not reach the primary and would leave the slot holding WAL.
      cluster.requests = [];
      await provider.delete(inputs.slotName, monday);
      expect(cluster.requests.map((r) => r.status)).toEqual([401]);
      expect(await slots()).toEqual([inputs.slotName]);
      await provider.delete(inputs.slotName, updated);
      expect(await slots()).toEqual([]);
      expect(cluster.requests.at(-1)).toMatchObject({ token: "token-of-tuesday", status: 101 });

      // The init hook: its results stay as they were. Outputs from before this fingerprint existed, or
      // another API server (another cluster, whatever the context is called), run it again.
      const init = (kc: string) => ({ ...structuredClone(hooks["trading-postgres-init"].inputs), host: "trading-postgres.trading.svc", port: 5432, connectTimeoutSeconds: 10, lockTimeoutSeconds: 30, kubernetes: onPrimary(kc) });
      const first = (await hooks["trading-postgres-init"].provider.create(init(kubeconfigFor("token-of-tuesday")))).outs;
      rbac.token = "token-of-wednesday";
      cluster.requests = [];
      const rotated = (await hooks["trading-postgres-init"].provider.update("postgres-init-5432", first, init(kubeconfigFor("token-of-wednesday")))).outs;
      expect(cluster.requests.map((r) => [r.token, r.status])).toEqual([["token-of-wednesday", 101]]);
      expect(rotated.migrations).toEqual(first.migrations);
      expect(rotated.appliedThisRun).toEqual(first.appliedThisRun);
      expect(rotated.kubernetes.kubeconfig).toContain("token-of-wednesday");

      cluster.requests = [];
      await hooks["trading-postgres-init"].provider.update("postgres-init-5432", { ...first, workFingerprint: undefined }, init(kubeconfigFor("token-of-wednesday")));
      expect(cluster.requests.length).toBeGreaterThan(1);

      kube.requests = [];
      const moved = (await hooks["trading-postgres-init"].provider.update("postgres-init-5432", rotated, init(kubeconfigFor(TOKEN, kube.url)))).outs;
      expect(kube.requests.length).toBeGreaterThan(0);
      expect(moved.workFingerprint).not.toBe(rotated.workFingerprint);
    } finally {
      await cluster.close();
    }
  });

  test("a new token the cluster refuses fails the update, naming the pod, and leaves the state as it was", async () => {
    const rbac = { token: "token-of-monday", pods };
    const cluster = await startPortForwardServer(rbac);
    const kubeconfigFor = (token: string) => kubeconfigYaml([{ name: "trading", server: cluster.url, token, namespace: NAMESPACE }]);
    try {
      const { provider, inputs } = hooks["trading-redis-init"];
      const redisInputs = (kc: string) => ({ ...structuredClone(inputs), host: "trading-redis.trading.svc", port: 6379, timeoutSeconds: 10, kubernetes: { namespace: NAMESPACE, pod: "trading-redis-0", context: "trading", kubeconfig: kc } });
      const monday = (await provider.create(redisInputs(kubeconfigFor("token-of-monday")))).outs;
      const mistyped = redisInputs(kubeconfigFor("token-of-tuesdya"));
      await expect(provider.update("redis-init-6379", monday, mistyped)).rejects.toThrow(/pod trading-redis-0 in namespace trading.*401 Unauthorized/);
      // Pulumi keeps a resource's old state when its update fails: the next `up` tries again.
      expect(await provider.diff("redis-init-6379", monday, mistyped)).toMatchObject({ changes: true });
    } finally {
      await cluster.close();
    }
  });
});

describe("kubeconfig and failures", () => {
  test("the context chosen is used, and without one the kubeconfig's current context", async () => {
    await redisInit();
    expect(kube.requests.length).toBeGreaterThan(0);
    expect(elsewhere.requests).toEqual([]);

    kube.requests = [];
    await redisInit({ kubernetes: target("trading-redis-0", { context: undefined }) });
    expect(kube.requests).toEqual([]);
    expect(elsewhere.requests.map((r) => r.token)).toContain("elsewhere-token");

    await expect(redisInit({ kubernetes: target("trading-redis-0", { context: "staging" }) })).rejects.toThrow(/has no context "staging" \(it has: elsewhere, trading\)/);
  });

  test("a kubeconfig may be a path, or come from KUBECONFIG when none is given", async () => {
    const file = path.join(tmp, "kubeconfig");
    fs.writeFileSync(file, kubeconfig, { mode: 0o600 });
    await redisInit({ kubernetes: target("trading-redis-0", { kubeconfig: file }) });
    expect(kube.requests.length).toBeGreaterThan(0);

    kube.requests = [];
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = file;
    try {
      await redisInit({ kubernetes: target("trading-redis-0", { kubeconfig: undefined }) });
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
    expect(kube.requests.length).toBeGreaterThan(0);

    await expect(redisInit({ kubernetes: target("trading-redis-0", { kubeconfig: path.join(tmp, "missing") }) })).rejects.toThrow(/cannot load the kubeconfig file .*missing: ENOENT/);
  });

  test("an unknown pod fails at once, naming the pod and its namespace", async () => {
    const started = Date.now();
    await expect(pgInit({ kubernetes: target("trading-postgres-9") })).rejects.toThrow(/found no pod trading-postgres-9 in namespace trading \(404 Not Found\)/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(seen(kube)).toEqual([`${NAMESPACE}/trading-postgres-9:5432 404`]);
  });

  test("credentials the API server refuses, or RBAC that does not allow port-forward, fail at once, saying what is needed", async () => {
    const withToken = (token: string) => kubeconfigYaml([{ name: "trading", server: kube.url, token }]);
    await expect(pgInit({ kubernetes: target("trading-postgres-0", { kubeconfig: withToken("not-the-token") }) })).rejects.toThrow(
      /did not accept the kubeconfig's credentials \(401 Unauthorized\).*RBAC permissions get and create on pods\/portforward .* and get on pods in namespace trading/,
    );
    await expect(redisInit({ kubernetes: target("trading-redis-0", { kubeconfig: withToken("token-without-rbac") }) })).rejects.toThrow(
      /pod trading-redis-0 in namespace trading, port 6379: .* forbids it \(403 Forbidden\): .*RBAC permissions get and create on pods\/portforward/,
    );
    expect(kube.requests.map((r) => r.status)).toEqual([401, 403]);
  });

  test("a pod whose server does not answer: the hook retries until its time is up, then says what the port-forward said", async () => {
    const started = Date.now();
    await expect(redisInit({ timeoutSeconds: 2, kubernetes: target("trading-redis-down-0") })).rejects.toThrow(
      /seeding failed after \d+ attempt\(s\): .*; last port-forward error: trading\/trading-redis-down-0:6379: error forwarding port 6379 to pod trading-redis-down-0, uid [0-9a-f-]+: .*ECONNREFUSED/,
    );
    expect(Date.now() - started).toBeGreaterThan(2_000);
    expect(kube.requests.length).toBeGreaterThan(2); // retried, each attempt its own port-forward
  });
});
