// The resource graph of one stack under Pulumi mocks, with that stack's real Pulumi.<stack>.yaml.
// Shared by stack-dev.test.ts and stack-prod.test.ts (one stack per process: Pulumi's runtime is global).
import { beforeAll, describe, expect, test } from "vitest";
import { isSecretInput, plain, runProgram, stackConfig, type MockedResource, type ProgramRun } from "../support/pulumi";

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";
const NETWORK = "docker:index/network:Network";
const PASSWORD = "random:index/randomPassword:RandomPassword";

export interface StackExpectations {
  stack: string;
  replicas: number;
  retainData: boolean;
  memoryMb: number;
}

export function describeStackGraph(expected: StackExpectations): void {
  let run: ProgramRun;
  const containers = () => run.ofType(CONTAINER);
  const value = (r: MockedResource, key: string) => plain(r.inputs[key]);

  beforeAll(async () => {
    run = await runProgram(expected.stack);
  });

  describe(`${expected.stack} stack graph`, () => {
    test("one pinned PostgreSQL image, a primary and the configured number of replicas", () => {
      const config = stackConfig(expected.stack);
      const images = run.ofType("docker:index/remoteImage:RemoteImage");
      expect(images.map((i) => value(i, "name"))).toEqual([config["trading-db-stack:postgresImage"]]);
      expect(containers().map((c) => value(c, "name")).sort()).toEqual(
        ["trading-postgres", ...Array.from({ length: expected.replicas }, (_, i) => `trading-postgres-replica-${i + 1}`)].sort(),
      );
      for (const c of containers()) expect(value(c, "image")).toBe("sha256:mock-postgres:18.1");
    });

    test("every published port is bound to 127.0.0.1, each on its own host port", () => {
      const published = containers().flatMap((c) => value(c, "ports"));
      expect(published.length).toBe(1 + expected.replicas);
      for (const port of published) expect(port.ip).toBe("127.0.0.1");
      expect(published.map((p: any) => p.external).sort()).toEqual(Array.from({ length: 1 + expected.replicas }, (_, i) => 5432 + i));
    });

    test("containers are health-checked over TCP, waited for, stopped gracefully and limited", () => {
      for (const c of containers()) {
        const health = value(c, "healthcheck");
        expect(health.tests).toEqual(["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]);
        expect(value(c, "wait")).toBe(true);
        expect(value(c, "waitTimeout")).toBeGreaterThanOrEqual(10);
        expect(value(c, "destroyGraceSeconds")).toBeGreaterThan(0);
        expect(value(c, "restart")).toBe("unless-stopped");
        expect(value(c, "memory")).toBe(expected.memoryMb);
        expect(c.options.deleteBeforeReplace).toBe(true); // fixed names and host ports
      }
    });

    test("the primary: password from a file, own pg_hba with a replication line, settings for streaming", () => {
      const primary = run.byName("postgres-primary");
      const envs: string[] = value(primary, "envs");
      expect(envs).toContain("PGDATA=/var/lib/postgresql/18/docker");
      expect(envs).toContain("POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password");
      expect(envs.some((e) => e.startsWith("POSTGRES_PASSWORD="))).toBe(false);
      expect(envs.some((e) => e.startsWith("POSTGRES_HOST_AUTH_METHOD"))).toBe(false);
      const command: string[] = value(primary, "command");
      expect(command[0]).toBe("postgres");
      expect(command).toEqual(expect.arrayContaining(["hba_file=/etc/trading-db-stack/pg_hba.conf", "wal_level=replica", "hot_standby=on"]));
      // The password file makes the whole uploads property a secret in the state.
      expect(isSecretInput(primary.inputs.uploads)).toBe(true);
      const uploads: any[] = value(primary, "uploads");
      const hba = uploads.find((u) => u.file === "/etc/trading-db-stack/pg_hba.conf").content as string;
      expect(hba).toMatch(/^host\s+replication\s+replicator\s+all\s+scram-sha-256$/m);
      expect(hba).not.toMatch(/\btrust\b/);
      expect(uploads.find((u) => u.file === "/run/secrets/postgres-password").content).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(value(primary, "volumes")).toEqual([{ volumeName: "trading_postgres_data", containerPath: "/var/lib/postgresql" }]);
    });

    test("databases join both networks under their service name; the db network is internal", () => {
      const networks = run.ofType(NETWORK);
      expect(networks.map((n) => [value(n, "name"), value(n, "internal") === true]).sort()).toEqual([
        ["trading-db-network", true],
        ["trading-network", false],
      ]);
      const primary = run.byName("postgres-primary");
      const attached = value(primary, "networksAdvanced");
      expect(attached.map((a: any) => [a.name, a.aliases])).toEqual([
        ["trading-network", ["postgres"]],
        ["trading-db-network", ["postgres"]],
      ]);
    });

    test(`volumes are named as in the seeds and ${expected.retainData ? "kept" : "not kept"} on destroy`, () => {
      const volumes = run.ofType(VOLUME);
      expect(volumes.map((v) => value(v, "name")).sort()).toEqual(
        ["trading_postgres_data", ...Array.from({ length: expected.replicas }, (_, i) => `trading_postgres_replica_${i + 1}_data`)].sort(),
      );
      for (const v of volumes) expect(v.options.retainOnDelete).toBe(expected.retainData);
    });

    test("replicas run the uploaded entrypoint script with their own slot, after the primary and their slot", () => {
      for (let n = 1; n <= expected.replicas; n++) {
        const replica = run.byName(`postgres-replica-${n}`);
        expect(value(replica, "entrypoints")).toEqual(["/usr/local/bin/trading-replica-entrypoint.sh"]);
        const envs: string[] = value(replica, "envs");
        expect(envs).toEqual(expect.arrayContaining([`REPLICATION_SLOT=trading_replica_${n}`, "PRIMARY_HOST=postgres", "REPLICATION_USER=replicator"]));
        expect(isSecretInput(replica.inputs.uploads)).toBe(true); // it holds the replication password
        const uploads: any[] = value(replica, "uploads");
        const script = uploads.find((u) => u.file === "/usr/local/bin/trading-replica-entrypoint.sh");
        expect(script.executable).toBe(true);
        expect(script.content).toContain("pg_basebackup");
        expect(uploads.find((u) => u.file === "/run/secrets/replication-password").content).toMatch(/^[A-Za-z0-9]{32}$/);
        expect(replica.options.dependsOn).toEqual(expect.arrayContaining(["postgres-primary", `postgres-replica-${n}-slot`]));
        expect(value(run.byName(`postgres-replica-${n}-slot`), "slotName")).toBe(`trading_replica_${n}`);
      }
    });

    test("hooks run after the containers they need are healthy, in order: init, slots, replica checks", () => {
      expect(run.byName("postgres-init").options.dependsOn).toContain("postgres-primary");
      for (let n = 1; n <= expected.replicas; n++) {
        expect(run.byName(`postgres-replica-${n}-slot`).options.dependsOn).toContain("postgres-init");
        expect(run.byName(`postgres-replica-${n}-check`).options.dependsOn).toContain(`postgres-replica-${n}`);
      }
      expect(run.ofType("pulumi-nodejs:dynamic/trading:PostgresReplicaCheck")).toHaveLength(expected.replicas);
    });

    test("every credential is a generated RandomPassword, and hooks keep passwords secret in their outputs", () => {
      const passwords = run.ofType(PASSWORD);
      expect(passwords.map((p) => p.name).sort()).toEqual(
        ["postgres-postgres-password", "postgres-replicator-password", "postgres-trading-platform-owner-password", "postgres-trading-readonly-password", "postgres-trading-results-owner-password"].sort(),
      );
      for (const p of passwords) {
        expect(value(p, "length")).toBeGreaterThanOrEqual(32);
        expect(value(p, "special")).toBe(false);
      }
      const init = run.byName("postgres-init");
      for (const key of ["superuserPassword", "replicationPassword", "readonlyPassword", "ownerPasswords"]) {
        expect(isSecretInput(init.inputs[key]), key).toBe(true);
        expect(init.options.additionalSecretOutputs).toContain(key);
      }
      for (const r of [...run.ofType("pulumi-nodejs:dynamic/trading:PostgresReplicationSlot"), ...run.ofType("pulumi-nodejs:dynamic/trading:PostgresReplicaCheck")]) {
        expect(isSecretInput(r.inputs.superuserPassword)).toBe(true);
        expect(r.options.additionalSecretOutputs).toContain("superuserPassword");
      }
    });

    test("the init hook carries its version, the migrations and their checksum, so changes reach existing stacks", () => {
      const init = plain(run.byName("postgres-init").inputs);
      expect(init.hookVersion).toMatch(/^\d+$/);
      expect(init.scriptsChecksum).toMatch(/^[0-9a-f]{64}$/);
      expect(init.databases.map((d: any) => [d.name, d.owner, d.migrations.map((m: any) => m.version)])).toEqual([
        ["trading_platform", "trading_platform_owner", ["0001"]],
        ["trading_results", "trading_results_owner", ["0001"]],
      ]);
      expect(init.host).toBe("127.0.0.1");
    });

    test("outputs: endpoints in plain text; URIs and env maps with the seeds' variable names only as secrets", () => {
      const { postgresPrimary, postgresReplicas, postgresUris, serviceEnv, postgresDatabases } = run.outputs;
      expect(postgresPrimary).toEqual({
        secret: false,
        value: { container: "trading-postgres", host: { host: "127.0.0.1", port: 5432 }, network: { host: "postgres", port: 5432 } },
      });
      expect(postgresReplicas.secret).toBe(false);
      expect(postgresReplicas.value).toHaveLength(expected.replicas);
      expect(postgresDatabases.value.trading_results.owner).toBe("trading_results_owner");
      expect(postgresUris.secret).toBe(true);
      expect(postgresUris.value.trading_platform.owner).toMatch(/^postgresql:\/\/trading_platform_owner:[A-Za-z0-9]{32}@127\.0\.0\.1:5432\/trading_platform$/);
      expect(postgresUris.value.trading_platform.replicas).toHaveLength(expected.replicas);
      expect(serviceEnv.secret).toBe(true);
      expect(serviceEnv.value.inNetwork["advanced-trading-platform"].DATABASE_URL).toMatch(/^postgresql\+asyncpg:\/\/trading_platform_owner:[A-Za-z0-9]{32}@postgres:5432\/trading_platform$/);
      expect(Object.keys(serviceEnv.value.inNetwork["trading-simulation"]).sort()).toEqual(["POSTGRES_DB", "POSTGRES_HOST", "POSTGRES_PASSWORD", "POSTGRES_PORT", "POSTGRES_USER"]);
      expect(serviceEnv.value.host["trading-simulation"]).toMatchObject({ POSTGRES_HOST: "127.0.0.1", POSTGRES_PORT: "5432", POSTGRES_DB: "trading_results" });
      // No password appears in any plain (non-secret) output.
      const plainText = JSON.stringify([postgresPrimary, postgresReplicas, postgresDatabases].map((o) => o.value));
      for (const p of run.ofType(PASSWORD)) expect(plainText).not.toContain(p.name.replace(/[^A-Za-z0-9]/g, ""));
    });
  });
}
