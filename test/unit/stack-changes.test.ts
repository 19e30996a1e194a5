// What `pulumi up` does to a dev stack that is already up when one setting changes: the program runs
// under mocks before and after, and every resource whose effective inputs (those the engine does
// not ignore) differ, appear or disappear is listed. A replaced database container is downtime.
import { beforeAll, describe, expect, test } from "vitest";
import { changedKeys } from "../support/engine/docker-engine";
import { graphChanges as changes, isSecretInput, plain, runProgram, type ProgramRun } from "../support/pulumi";

describe("dev stack: which resources a setting change touches", () => {
  let base: ProgramRun;
  beforeAll(async () => {
    base = await runProgram("dev");
  });

  test("the same settings twice change nothing (the program is deterministic)", async () => {
    expect(changes(base, await runProgram("dev"))).toEqual({ added: [], removed: [], changed: [] });
  });

  test("replicas 1 -> 2 adds replica 2's resources only; the primary, its hook and replica 1 stay as they are", async () => {
    const change = changes(base, await runProgram("dev", { postgresReplicas: "2" }));
    expect(change.added).toEqual(["trading-postgres-replica-2", "trading-postgres-replica-2-check", "trading-postgres-replica-2-data", "trading-postgres-replica-2-slot"]);
    expect(change.removed).toEqual([]);
    // pgAdmin lists every server: it is re-created to show the new replica (a dev tool, no data).
    expect(change.changed).toEqual(["trading-admin-tools-pgadmin"]);
  });

  test("replicas 1 -> 0 removes replica 1's resources only", async () => {
    const change = changes(base, await runProgram("dev", { postgresReplicas: "0" }));
    expect(change.removed).toEqual(["trading-postgres-replica-1", "trading-postgres-replica-1-check", "trading-postgres-replica-1-data", "trading-postgres-replica-1-slot"]);
    expect(change.added).toEqual([]);
    expect(change.changed).toEqual(["trading-admin-tools-pgadmin"]);
  });

  test("a wait timeout restarts no container: their `waitTimeout` alone, which the provider updates in its state only; and the hooks' own time limits", async () => {
    const after = await runProgram("dev", { waitTimeoutSeconds: "600" });
    const change = changes(base, after);
    expect(change.added).toEqual([]);
    expect(change.removed).toEqual([]);
    expect(change.changed).toEqual(expect.arrayContaining(["trading-postgres-init", "trading-mongo-init", "trading-redis-init", "trading-influxdb-init"]));
    for (const name of change.changed) {
      if (base.byName(name).type.startsWith("pulumi-nodejs:dynamic/")) continue;
      expect(base.byName(name).type, name).toBe("docker:index/container:Container");
      // Not ForceNew in terraform-provider-docker's container schema, and its update ignores it: no restart.
      expect(changedKeys(plain(base.byName(name).inputs), plain(after.byName(name).inputs)), name).toEqual(["waitTimeout"]);
    }
  });

  test("a retention change touches only the InfluxDB hook", async () => {
    expect(changes(base, await runProgram("dev", { influxdbRetentionDays: "30" }))).toEqual({ added: [], removed: [], changed: ["trading-influxdb-init"] });
    expect(changes(base, await runProgram("dev", { influxdbDownsampledRetentionDays: "0" }))).toEqual({ added: [], removed: [], changed: ["trading-influxdb-init"] });
  });

  test("a superuser password the user sets replaces the generated one: the primary (its wrapper applies it on start) and the hooks that log in with it", async () => {
    const own = "Users0Own:Superuser/Password";
    const run = await runProgram("dev", { postgresSuperuserPassword: own });
    const change = changes(base, run);
    expect(change.removed).toEqual(["trading-secrets-postgres-postgres-password"]);
    expect(change.added).toEqual([]);
    // pgAdmin logs in with a role of its own: a superuser change does not reach it.
    expect(change.changed).toEqual(["trading-postgres-init", "trading-postgres-primary", "trading-postgres-replica-1-check", "trading-postgres-replica-1-slot"]);
    const primary = run.byName("trading-postgres-primary");
    expect(isSecretInput(primary.inputs.uploads)).toBe(true);
    expect(plain(primary.inputs.uploads).find((u: { file: string }) => u.file === "/run/secrets/postgres-password").content).toBe(own);
    expect(run.outputs.adminConnections.secret).toBe(true);
    expect(run.outputs.adminConnections.value.postgres.primary).toContain(encodeURIComponent(own));
  });

  test("a MongoDB root password the user sets restarts no member: the hook sets it through __system; mongo-express has a user of its own", async () => {
    const run = await runProgram("dev", { mongoRootPassword: "Users0Own0Mongo0Root0Password" });
    const change = changes(base, run);
    expect(change).toEqual({ added: [], removed: ["trading-secrets-mongo-root-password"], changed: ["trading-mongo-init"] });
    expect(plain(run.byName("trading-mongo-init").inputs).rootPassword).toBe("Users0Own0Mongo0Root0Password");
  });

  test("adminToolsAccess read-write: the hooks grant the tools' logins writes (pg_write_all_data, readWriteAnyDatabase), mongo-express's UI allows edits; nothing else changes", async () => {
    const run = await runProgram("dev", { adminToolsAccess: "read-write" });
    expect(changes(base, run)).toEqual({ added: [], removed: [], changed: ["trading-admin-tools-mongo-express", "trading-mongo-init", "trading-postgres-init"] });
    expect(plain(run.byName("trading-postgres-init").inputs).adminToolsGrants).toEqual(["pg_read_all_data", "pg_write_all_data"]);
    expect(plain(run.byName("trading-mongo-init").inputs).users.find((u: { name: string }) => u.name === "trading_admin_tools").roles).toEqual([{ role: "readWriteAnyDatabase", db: "admin" }, { role: "clusterMonitor", db: "admin" }]);
    expect(plain(run.byName("trading-admin-tools-mongo-express").inputs).envs).toContain("ME_CONFIG_OPTIONS_READONLY=false");
    await expect(runProgram("dev", { adminToolsAccess: "admin" })).rejects.toThrow(/trading-db-stack:adminToolsAccess: must be one of: read-only, read-write; got "admin"/);
  });

  test("an election timeout touches only the MongoDB hook (it reconfigures the set)", async () => {
    expect(changes(base, await runProgram("dev", { mongoElectionTimeoutMs: "2000" }))).toEqual({ added: [], removed: [], changed: ["trading-mongo-init"] });
  });

  test("a server's image pin replaces its image and its containers only, on their kept volumes; no hook re-runs", async () => {
    expect(changes(base, await runProgram("dev", { redisImage: "redis:7.4.10" }))).toEqual({ added: [], removed: [], changed: ["trading-redis-image", "trading-redis-server"] });
    expect(changes(base, await runProgram("dev", { mongoImage: "mongo:8.0.31" }))).toEqual({ added: [], removed: [], changed: ["trading-mongo-1", "trading-mongo-2", "trading-mongo-3", "trading-mongo-image"] });
    expect(changes(base, await runProgram("dev", { postgresImage: "postgres:18.6" }))).toEqual({ added: [], removed: [], changed: ["trading-postgres-data-major", "trading-postgres-image", "trading-postgres-primary", "trading-postgres-replica-1"] });
    expect(changes(base, await runProgram("dev", { influxdbImage: "influxdb:2.7.11" }))).toEqual({ added: [], removed: [], changed: ["trading-influxdb-image", "trading-influxdb-server"] });
  });
});
