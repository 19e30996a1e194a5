// Streaming replicas against real servers: init/scripts/postgres-replica-entrypoint.sh (the
// container's entrypoint) bootstraps a standby from a real primary, and the slot and check hooks
// run through the providers Pulumi serialised for the dev stack.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ENGINES, ownership, processUids } from "../support/container";
import {
  pgBinDir,
  pgContainer,
  removeServerDir,
  REPLICA_ENTRYPOINT,
  replicaScriptEnv,
  serverDir,
  serverUser,
  spawnAsServerUser,
  startPrimary,
  startReplica,
  startReplicaContainer,
  type PgServer,
  type ReplicaOptions,
} from "../support/postgres";
import { runProgram, serializedHook } from "../support/pulumi";

let primary: PgServer;
let replica: PgServer | undefined;
const providers: Record<string, any> = {};
const base: Record<string, Record<string, any>> = {};
let replicaOptions: ReplicaOptions;

function hook(name: string) {
  return { provider: providers[name], inputs: (overrides: Record<string, any> = {}) => ({ ...structuredClone(base[name]), ...overrides }) };
}
const init = () => hook("trading-postgres-init");
const slotHook = () => hook("trading-postgres-replica-1-slot");
const checkHook = () => hook("trading-postgres-replica-1-check");

beforeAll(async () => {
  const run = await runProgram("dev");
  for (const name of ["trading-postgres-init", "trading-postgres-replica-1-slot", "trading-postgres-replica-1-check"]) {
    ({ provider: providers[name], inputs: base[name] } = serializedHook(run.byName(name)));
  }
  primary = await startPrimary(base["trading-postgres-init"].superuserPassword, "primary");
  await init().provider.create(init().inputs({ port: primary.port }));
  replicaOptions = {
    primary,
    slot: base["trading-postgres-replica-1-slot"].slotName,
    replicationUser: base["trading-postgres-init"].replicationRole,
    replicationPassword: base["trading-postgres-init"].replicationPassword,
  };
});

afterAll(async () => {
  await replica?.stop();
  if (replica) removeServerDir(replica);
  await primary?.stop();
  if (primary) removeServerDir(primary);
});

async function query(server: PgServer, sql: string, database = "postgres"): Promise<any[]> {
  const client = await server.connect(database);
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function slotRow(): Promise<{ active: boolean; restart_lsn: string | null } | undefined> {
  const rows = await query(primary, `SELECT active, restart_lsn::text FROM pg_replication_slots WHERE slot_name = '${replicaOptions.slot}'`);
  return rows[0];
}

const slotInputs = () => slotHook().inputs({ port: primary.port, connectTimeoutSeconds: 10 });
const checkInputs = (replicaPort: number) => checkHook().inputs({ primaryPort: primary.port, replicaPort, timeoutSeconds: 20 });

describe("postgres streaming replicas", () => {
  test("the slot hook reserves the replica's slot on the primary before the replica exists; a re-run is a no-op", async () => {
    expect(replicaOptions.slot).toBe("trading_replica_1");
    const result = await slotHook().provider.create(slotInputs());
    expect(result.id).toBe("trading_replica_1");
    const slot = await slotRow();
    expect(slot).toBeDefined();
    expect(slot!.active).toBe(false);
    expect(slot!.restart_lsn).not.toBeNull(); // WAL is held from now on
    await slotHook().provider.update(result.id, result.outs, slotInputs());
    expect(await query(primary, "SELECT count(*)::int AS n FROM pg_replication_slots")).toEqual([{ n: 1 }]);
  });

  test("pg_hba.conf lets only the replication role stream WAL", () => {
    const attempt = (user: string, password: string) =>
      spawnSync(path.join(pgBinDir(), "pg_basebackup"), ["-h", "127.0.0.1", "-p", String(primary.port), "-U", user, "-D", path.join(primary.dir, `basebackup-${user}`), "-w"], {
        encoding: "utf8",
        env: { PGPASSWORD: password, PATH: process.env.PATH },
      });
    const readonly = attempt(base["trading-postgres-init"].readonlyRole, base["trading-postgres-init"].readonlyPassword);
    expect(readonly.status).not.toBe(0);
    expect(readonly.stderr).toMatch(/pg_hba\.conf rejects replication connection for host "127\.0\.0\.1", user "trading_readonly"/);
    const wrongPassword = attempt(replicaOptions.replicationUser, "not-the-password");
    expect(wrongPassword.status).not.toBe(0);
    expect(wrongPassword.stderr).toMatch(/password authentication failed for user "replicator"/);
  });

  test("the entrypoint script bootstraps a hot standby through its slot, keeping the password out of files and command lines", async () => {
    replica = await startReplica(replicaOptions);
    expect(replica.log()).toContain("taking a base backup from 127.0.0.1");
    expect(await query(replica, "SELECT pg_is_in_recovery() AS standby")).toEqual([{ standby: true }]);
    // Data from the init hook is there: the copy is of the whole cluster.
    expect(await query(replica, "SELECT count(*)::int AS n FROM strategies", "trading_platform")).toEqual([{ n: 4 }]);
    expect((await slotRow())!.active).toBe(true);

    const passfile = path.join(replica.dir, "replication.pgpass");
    expect(fs.statSync(passfile).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(path.join(replica.dataDir, "standby.signal"))).toBe(true);
    const password = replicaOptions.replicationPassword;
    expect(fs.readFileSync(path.join(replica.dataDir, "postgresql.auto.conf"), "utf8")).not.toContain(password);
    const commandLines = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
    expect(commandLines).toContain(`primary_slot_name=${replicaOptions.slot}`);
    expect(commandLines).not.toContain(password);
  });

  test("the check hook proves the replica streams and refuses writes", async () => {
    const result = await checkHook().provider.create(checkInputs(replica!.port));
    expect(result.outs.streamingState).toBe("streaming");
    expect(result.outs.markerLatencyMs).toBeGreaterThanOrEqual(0);
    expect(result.outs.markerLatencyMs).toBeLessThan(20_000);
    // And independently of the hook: a write on the replica is refused as read-only.
    const client = await replica!.connect("trading_platform");
    try {
      await expect(client.query("INSERT INTO users (username, email) VALUES ('ro', 'ro@example.com')")).rejects.toMatchObject({ code: "25006" });
    } finally {
      await client.end();
    }
  });

  test("the check fails with a clear error against a server that is not a standby", async () => {
    await expect(checkHook().provider.create(checkInputs(primary.port))).rejects.toThrow(/replica trading_replica_1 at 127\.0\.0\.1:\d+ is not a standby/);
  });

  test("a restarted replica keeps its data, takes no new base backup, and streams again", async () => {
    const { dir, port } = replica!;
    await replica!.stop();
    await query(primary, "CREATE TABLE IF NOT EXISTS written_while_down (id int); INSERT INTO written_while_down VALUES (7)");
    replica = await startReplica({ ...replicaOptions, dir, port });
    expect(replica.log().match(/taking a base backup/g)).toHaveLength(1);
    const result = await checkHook().provider.create(checkInputs(replica.port));
    expect(result.outs.streamingState).toBe("streaming");
    expect(await query(replica, "SELECT id FROM written_while_down")).toEqual([{ id: 7 }]);
  });

  test("a replica whose data comes from another cluster than the primary refuses to start, and says why", async () => {
    const { dir, port } = replica!;
    await replica!.stop();
    // A new primary (its data recreated), set up by the same hook; the replica's folder is kept.
    const other = await startPrimary(base["trading-postgres-init"].superuserPassword, "other-primary");
    try {
      await init().provider.create(init().inputs({ port: other.port }));
      const logFile = path.join(dir, "server.log");
      const before = fs.readFileSync(logFile, "utf8").length;
      const child = spawnAsServerUser("bash", [REPLICA_ENTRYPOINT, "postgres"], replicaScriptEnv({ ...replicaOptions, primary: other }, dir, path.join(dir, "data"), path.join(dir, "replication-password")), logFile);
      const code = await new Promise((resolve) => child.once("exit", resolve));
      expect(code).not.toBe(0);
      expect(fs.readFileSync(logFile, "utf8").slice(before)).toMatch(
        /this replica's data is a copy of database system \d+, but the primary is system \d+ \(its data was recreated\); remove this replica's volume/,
      );
    } finally {
      await other.stop();
      removeServerDir(other);
    }
    // With its own primary it starts as before.
    replica = await startReplica({ ...replicaOptions, dir, port });
    expect((await checkHook().provider.create(checkInputs(replica.port))).outs.streamingState).toBe("streaming");
  });

  test("the script refuses to delete a data folder that has files but no PG_VERSION", async () => {
    const dir = serverDir("junk");
    const dataDir = path.join(dir, "data");
    fs.mkdirSync(dataDir);
    fs.writeFileSync(path.join(dataDir, "precious.txt"), "keep me");
    const passwordFile = path.join(dir, "replication-password");
    fs.writeFileSync(passwordFile, replicaOptions.replicationPassword);
    spawnSync("chown", ["-R", "postgres:postgres", dir]);
    const logFile = path.join(dir, "script.log");
    const child = spawnAsServerUser("bash", [REPLICA_ENTRYPOINT, "postgres"], replicaScriptEnv(replicaOptions, dir, dataDir, passwordFile), logFile);
    const code = await new Promise((resolve) => child.once("exit", resolve));
    const log = fs.readFileSync(logFile, "utf8");
    expect(code).not.toBe(0);
    expect(log).toMatch(/PGDATA \(.*\) has files but no PG_VERSION; move them away first/);
    expect(log).not.toContain("taking a base backup");
    expect(fs.readFileSync(path.join(dataDir, "precious.txt"), "utf8")).toBe("keep me");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the slot hook's delete releases and drops the slot, so a removed replica holds no WAL", async () => {
    // As on `pulumi destroy`: the replica goes first (it depends on the slot), then the slot.
    await replica!.stop();
    removeServerDir(replica!);
    replica = undefined;
    const created = await slotHook().provider.create(slotInputs());
    await slotHook().provider.delete(created.id, created.outs);
    expect(await slotRow()).toBeUndefined();
    // Deleting again, or with the primary unreachable, does not fail a destroy.
    await slotHook().provider.delete(created.id, created.outs);
    await slotHook().provider.delete(created.id, { ...created.outs, port: 1, connectTimeoutSeconds: 1 });
  });

  test("a replica whose slot was dropped creates it again with its base backup", async () => {
    expect(await slotRow()).toBeUndefined();
    replica = await startReplica(replicaOptions);
    expect(replica.log()).toContain(`slot ${replicaOptions.slot} is missing on the primary; creating it with the base backup`);
    expect((await slotRow())!.active).toBe(true);
    const result = await checkHook().provider.create(checkInputs(replica.port));
    expect(result.outs.streamingState).toBe("streaming");
  });
});

// The same script as each engine starts it, as the postgres user: on Docker the volume's root is
// postgres' and the replication password an upload only postgres reads (0400); on Kubernetes the
// volume's root is root:<gid> 2775 and the password a Secret file root:<gid> 0440. No gosu.
describe.each(ENGINES)("the replica entrypoint started as on %s", (engine) => {
  const slot = `trading_replica_${engine}`;
  const user = serverUser()!;
  let standby: PgServer | undefined;

  afterAll(async () => {
    await standby?.stop();
    if (standby) removeServerDir(standby);
    const inputs = slotHook().inputs({ port: primary.port, slotName: slot });
    await slotHook().provider.delete(slot, inputs);
  });

  test("takes a base backup through its slot into an empty volume and streams from the primary as a hot standby", async () => {
    await slotHook().provider.create(slotHook().inputs({ port: primary.port, connectTimeoutSeconds: 10, slotName: slot }));
    const c = await pgContainer("replica", engine);
    standby = await startReplicaContainer(c, { ...replicaOptions, slot });

    expect(standby.log()).toContain(`taking a base backup from 127.0.0.1:${primary.port} through slot ${slot}`);
    expect(standby.log()).not.toContain("is missing on the primary");
    const check = await checkHook().provider.create(checkHook().inputs({ primaryPort: primary.port, replicaPort: standby.port, timeoutSeconds: 20, slotName: slot }));
    expect(check.outs.streamingState).toBe("streaming");
    expect(await query(standby, "SELECT count(*)::int AS n FROM strategies", "trading_platform")).toEqual([{ n: 4 }]);

    expect(processUids(standby.process.pid!)).toEqual([user.uid, user.uid, user.uid, user.uid]);
    expect(ownership(c.pgdata)).toMatchObject({ uid: user.uid });
    expect(ownership(path.join(c.run, "replication.pgpass"))).toMatchObject({ uid: user.uid, mode: "0600" });
    expect(fs.readdirSync(path.dirname(c.pgdata))).toEqual(["docker"]); // no scratch copy left beside it
    // As mounted: the script chowned and chmodded nothing it does not own.
    const mounted = engine === "kubernetes" ? { volume: { uid: 0, gid: user.gid, mode: "2775" }, secret: { uid: 0, gid: user.gid, mode: "0440" } } : { volume: { uid: user.uid, gid: user.gid, mode: "0755" }, secret: { uid: user.uid, gid: user.gid, mode: "0400" } };
    expect(ownership(c.volume)).toEqual(mounted.volume);
    expect(ownership(path.join(c.files.dir, "secrets", "replication-password"))).toEqual(mounted.secret);
  });
});
