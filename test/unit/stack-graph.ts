// The resource graph of one stack under Pulumi mocks, with that stack's real Pulumi.<stack>.yaml.
// Shared by stack-dev.test.ts and stack-prod.test.ts (one stack per process: Pulumi's runtime is global).
import * as crypto from "crypto";
import { beforeAll, describe, expect, test } from "vitest";
import { isSecretInput, mockPassword, plain, requireBuilt, runProgram, stackConfig, type MockedResource, type ProgramRun } from "../support/pulumi";

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";
const NETWORK = "docker:index/network:Network";
const PASSWORD = "random:index/randomPassword:RandomPassword";

export interface StackExpectations {
  stack: string;
  /** Config set over the stack's file (e.g. prod with platform docker). */
  overrides?: Record<string, string>;
  replicas: number;
  retainData: boolean;
  memoryMb: number;
  mongoMembers: number;
  mongoElectionTimeoutMs: number;
  redisMaxMemoryMb: number;
  influxRetentionDays: number;
  adminTools: boolean;
}

export function describeStackGraph(expected: StackExpectations): void {
  let run: ProgramRun;
  const allContainers = () => run.ofType(CONTAINER);
  const containers = () => allContainers().filter((c) => String(value(c, "name")).startsWith("trading-postgres"));
  const value = (r: MockedResource, key: string) => plain(r.inputs[key]);

  beforeAll(async () => {
    run = await runProgram(expected.stack, expected.overrides);
  });

  describe(`${expected.stack} stack graph${expected.overrides ? ` with ${JSON.stringify(expected.overrides)}` : ""}`, () => {
    test("one pinned image per database; a PostgreSQL primary and the configured number of replicas", () => {
      const config = stackConfig(expected.stack);
      const images = run.ofType("docker:index/remoteImage:RemoteImage");
      const imageKeys = ["postgresImage", "mongoImage", "redisImage", "influxdbImage", ...(expected.adminTools ? ["pgadminImage", "mongoExpressImage"] : [])];
      expect(images.map((i) => value(i, "name"))).toEqual(imageKeys.map((key) => config[`trading-db-stack:${key}`]));
      for (const image of images) expect(value(image, "name")).toMatch(/^[a-z0-9/-]+:\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$/);
      expect(containers().map((c) => value(c, "name")).sort()).toEqual(
        ["trading-postgres", ...Array.from({ length: expected.replicas }, (_, i) => `trading-postgres-replica-${i + 1}`)].sort(),
      );
      for (const c of containers()) expect(value(c, "image")).toBe("sha256:mock-postgres:18.7");
    });

    test("every published port of every container is bound to 127.0.0.1, each on its own host port", () => {
      const published = allContainers().flatMap((c) => value(c, "ports"));
      const count = 1 + expected.replicas + expected.mongoMembers + 2 + (expected.adminTools ? 2 : 0);
      expect(published.length).toBe(count);
      for (const port of published) expect(port.ip).toBe("127.0.0.1");
      expect(new Set(published.map((p: any) => p.external)).size).toBe(count);
      const pgPorts = containers().flatMap((c) => value(c, "ports")).map((p: any) => p.external).sort();
      expect(pgPorts).toEqual(Array.from({ length: 1 + expected.replicas }, (_, i) => 5432 + i));
    });

    test("every container is health-checked, waited for, restarted, stopped gracefully and replaced delete-first", () => {
      expect(allContainers()).toHaveLength(1 + expected.replicas + expected.mongoMembers + 2 + (expected.adminTools ? 2 : 0));
      for (const c of allContainers()) {
        const name = value(c, "name");
        expect(value(c, "healthcheck").tests.length, name).toBeGreaterThan(1);
        expect(value(c, "wait"), name).toBe(true);
        expect(value(c, "destroyGraceSeconds"), name).toBeGreaterThan(0);
        expect(value(c, "restart"), name).toBe("unless-stopped");
        expect(c.options.deleteBeforeReplace, name).toBe(true);
        expect(value(c, "networksAdvanced").map((n: any) => n.name), name).toEqual(["trading-network", "trading-db-network"]);
      }
    });

    test("every container runs as its image's user, with every capability dropped (pgAdmin keeps its python's file capability in the bounding set), no-new-privileges, and secret files only that user reads", () => {
      const users: Record<string, string> = { postgres: "999:999", mongodb: "999:999", redis: "999:999", influxdb: "1000:1000", pgadmin: "5050:0", "mongo-express": "1000:1000" };
      for (const c of allContainers()) {
        const name: string = value(c, "name");
        const kind = Object.keys(users).find((k) => name.replace(/^trading-/, "").replace(/-(replica-)?\d+$/, "") === k);
        expect(kind, name).toBeDefined();
        expect(value(c, "user"), name).toBe(users[kind!]);
        expect(value(c, "capabilities"), name).toEqual(kind === "pgadmin" ? { drops: ["ALL"], adds: ["NET_BIND_SERVICE"] } : { drops: ["ALL"] });
        expect(value(c, "securityOpts"), name).toEqual(["no-new-privileges:true"]);
        const [uid, gid] = users[kind!].split(":");
        const uploads = value(c, "uploads");
        const secrets = uploads.filter((u: any) => u.file.startsWith("/run/secrets/") || /password|pgpass|url|secret|\.acl$/i.test(u.file));
        expect(secrets.length, name).toBeGreaterThan(0);
        for (const upload of secrets) expect({ file: upload.file, owner: upload.owner, group: upload.group, permissions: upload.permissions }, name).toEqual({ file: upload.file, owner: uid, group: gid, permissions: "0400" });
        // Nothing else is the user's to change: config and scripts stay root's.
        for (const upload of uploads.filter((u: any) => !secrets.includes(u))) expect(upload.owner, `${name} ${upload.file}`).toBeUndefined();
      }
      // The Mongo keyfile copy goes to a tmpfs of the member's user, and Mongo's /tmp is one too (what Kubernetes makes emptyDirs).
      for (const c of allContainers().filter((c) => /^trading-mongodb/.test(value(c, "name")))) expect(value(c, "tmpfs")).toEqual({ "/etc/mongo-keyfile": "uid=999,gid=999,mode=0700", "/tmp": "uid=999,gid=999,mode=0700" });
      expect(value(allContainers().find((c) => value(c, "name") === "trading-influxdb")!, "tmpfs")).toBeUndefined();
    });

    test("containers are health-checked over TCP, waited for, stopped gracefully and limited", () => {
      for (const c of containers()) {
        const health = value(c, "healthcheck");
        expect(health.tests[0]).toBe("CMD-SHELL");
        expect(health.tests[1]).toContain("pg_isready -q -h 127.0.0.1 -p 5432 -U postgres");
        expect(value(c, "wait")).toBe(true);
        expect(value(c, "waitTimeout")).toBeGreaterThanOrEqual(10);
        expect(value(c, "destroyGraceSeconds")).toBeGreaterThan(0);
        expect(value(c, "restart")).toBe("unless-stopped");
        expect(value(c, "memory")).toBe(expected.memoryMb);
        expect(c.options.deleteBeforeReplace).toBe(true); // fixed names and host ports
      }
    });

    test("the primary: password from a file, own pg_hba with a replication line, settings for streaming", () => {
      const primary = run.byName("trading-postgres-primary");
      const envs: string[] = value(primary, "envs");
      expect(envs).toContain("PGDATA=/var/lib/postgresql/18/docker");
      expect(envs).toContain("POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password");
      expect(envs.some((e) => e.startsWith("POSTGRES_PASSWORD="))).toBe(false);
      expect(envs.some((e) => e.startsWith("POSTGRES_HOST_AUTH_METHOD"))).toBe(false);
      // The wrapper applies the declared superuser password to a retained cluster, then runs the image's entrypoint.
      expect(value(primary, "entrypoints")).toEqual(["/usr/local/bin/trading-primary-entrypoint.sh"]);
      const command: string[] = value(primary, "command");
      expect(command[0]).toBe("postgres");
      expect(command).toEqual(expect.arrayContaining(["hba_file=/var/run/postgresql/pg_hba.conf", "wal_level=replica", "hot_standby=on"]));
      // pg_hba.conf is written at start from the uploaded template, by the uploaded script.
      expect(envs).toEqual(
        expect.arrayContaining(["HBA_TEMPLATE=/etc/trading-db-stack/pg_hba.conf.template", "HBA_FILE=/var/run/postgresql/pg_hba.conf", "HBA_SCRIPT=/usr/local/bin/trading-postgres-hba.sh"]),
      );
      // The password file makes the whole uploads property a secret in the state.
      expect(isSecretInput(primary.inputs.uploads)).toBe(true);
      const uploads: any[] = value(primary, "uploads");
      const hba = uploads.find((u) => u.file === "/etc/trading-db-stack/pg_hba.conf.template").content as string;
      expect(hba).toMatch(/^host\s+replication\s+replicator\s+@DB_NETWORK@\s+scram-sha-256$/m);
      // The superuser and the owners never log in from a container.
      expect(hba).toMatch(/^host\s+all\s+postgres,trading_platform_owner,trading_results_owner\s+all\s+reject$/m);
      expect(uploads.find((u) => u.file === "/usr/local/bin/trading-postgres-hba.sh").content).toContain("/proc/net/route");
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
      const primary = run.byName("trading-postgres-primary");
      const attached = value(primary, "networksAdvanced");
      expect(attached.map((a: any) => [a.name, a.aliases])).toEqual([
        ["trading-network", ["postgres"]],
        // The replicas stream from the internal network's address, the one pg_hba admits replication from.
        ["trading-db-network", ["postgres", "postgres-internal"]],
      ]);
    });

    test(`volumes are named as in the seeds and ${expected.retainData ? "kept" : "not kept"} on destroy`, () => {
      const volumes = run.ofType(VOLUME);
      const mongoVolumes = Array.from({ length: expected.mongoMembers }, (_, i) =>
        i === 0 ? ["trading_mongodb_data", "trading_mongodb_config"] : [`trading_mongodb_${i + 1}_data`, `trading_mongodb_${i + 1}_config`],
      ).flat();
      expect(volumes.map((v) => value(v, "name")).sort()).toEqual(
        [
          "trading_postgres_data",
          ...Array.from({ length: expected.replicas }, (_, i) => `trading_postgres_replica_${i + 1}_data`),
          ...mongoVolumes,
          "trading_redis_data",
          "trading_influxdb_data",
          "trading_influxdb_config",
          ...(expected.adminTools ? ["trading_pgadmin_data"] : []),
        ].sort(),
      );
      for (const v of volumes) expect(v.options.retainOnDelete).toBe(expected.retainData);
    });

    test("replicas run the uploaded entrypoint script with their own slot, after the primary and their slot", () => {
      for (let n = 1; n <= expected.replicas; n++) {
        const replica = run.byName(`trading-postgres-replica-${n}`);
        expect(value(replica, "entrypoints")).toEqual(["/usr/local/bin/trading-replica-entrypoint.sh"]);
        const envs: string[] = value(replica, "envs");
        expect(envs).toEqual(expect.arrayContaining([`REPLICATION_SLOT=trading_replica_${n}`, "PRIMARY_HOST=postgres-internal", "REPLICATION_USER=replicator"]));
        expect(isSecretInput(replica.inputs.uploads)).toBe(true); // it holds the replication password
        const uploads: any[] = value(replica, "uploads");
        const script = uploads.find((u) => u.file === "/usr/local/bin/trading-replica-entrypoint.sh");
        // 0755: the script re-runs itself as postgres (uid 999), which cannot execute a root-owned 0744 file.
        expect(script.permissions).toBe("0755");
        expect(script.content).toContain("pg_basebackup");
        expect(uploads.find((u) => u.file === "/run/secrets/replication-password").content).toMatch(/^[A-Za-z0-9]{32}$/);
        expect(replica.options.dependsOn).toEqual(expect.arrayContaining(["trading-postgres-primary", `trading-postgres-replica-${n}-slot`]));
        expect(value(run.byName(`trading-postgres-replica-${n}-slot`), "slotName")).toBe(`trading_replica_${n}`);
      }
    });

    test("every hook's version is the hash of its own serialised code; every script is uploaded 0755; every container labels its healthcheck's hash", () => {
      // The hooks; the guard of PostgreSQL's major is a check, with no code version of its own.
      const hooks = run.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/") && r.type !== "pulumi-nodejs:dynamic/trading:PostgresMajorGuard");
      expect(hooks.length).toBeGreaterThanOrEqual(4 + 2 * expected.replicas);
      const versionByType = new Map<string, string>();
      for (const hook of hooks) {
        const { __provider, hookVersion } = plain(hook.inputs);
        expect(hookVersion, hook.name).toBe(crypto.createHash("sha256").update(__provider).digest("hex"));
        versionByType.set(hook.type, hookVersion);
      }
      // One provider per kind of hook: editing one hook's code changes no other hook's version.
      expect(new Set(versionByType.values()).size).toBe(versionByType.size);
      for (const c of allContainers()) {
        const name = value(c, "name");
        for (const upload of value(c, "uploads") as any[]) {
          if (upload.file.endsWith(".sh")) expect(upload.permissions, `${name} ${upload.file}`).toBe("0755");
          expect(upload.executable, `${name} ${upload.file}`).toBeUndefined();
        }
        const label = (value(c, "labels") as any[]).find((l) => l.label === "com.trading-db-stack.spec-hash");
        const h = value(c, "healthcheck");
        const hash = crypto.createHash("sha256").update(JSON.stringify([h.tests, h.interval, h.timeout, h.retries, h.startPeriod, h.startInterval])).digest("hex").slice(0, 16);
        expect(label?.value, name).toBe(hash);
      }
    });

    test("hooks run after the containers they need are healthy, in order: init, slots, replica checks", () => {
      expect(run.byName("trading-postgres-init").options.dependsOn).toContain("trading-postgres-primary");
      for (let n = 1; n <= expected.replicas; n++) {
        expect(run.byName(`trading-postgres-replica-${n}-slot`).options.dependsOn).toContain("trading-postgres-init");
        expect(run.byName(`trading-postgres-replica-${n}-check`).options.dependsOn).toContain(`trading-postgres-replica-${n}`);
      }
      expect(run.ofType("pulumi-nodejs:dynamic/trading:PostgresReplicaCheck")).toHaveLength(expected.replicas);
    });

    test("every credential is a generated RandomPassword, and hooks keep passwords secret in their outputs", () => {
      const passwords = run.ofType(PASSWORD);
      expect(passwords.map((p) => p.name).sort()).toEqual(
        [
          "postgres-postgres-password",
          "postgres-replicator-password",
          "postgres-trading-platform-owner-password",
          "postgres-trading-readonly-password",
          "postgres-trading-results-owner-password",
          "postgres-trading-platform-app-password",
          "postgres-trading-results-app-password",
          "mongo-root-password",
          "mongo-app-password",
          "mongo-readonly-password",
          "mongo-keyfile",
          "redis-admin-password",
          "redis-app-password",
          "redis-healthcheck-password",
          "influxdb-admin-password",
          "influxdb-admin-token",
          ...(expected.adminTools ? ["postgres-trading-admin-tools-password", "mongo-admin-tools-password", "pgadmin-password", "mongo-express-password", "mongo-express-session-secret", "mongo-express-cookie-secret"] : []),
        ]
          .map((id) => `trading-secrets-${id}`)
          .sort(),
      );
      for (const p of passwords) {
        expect(value(p, "length")).toBeGreaterThanOrEqual(32);
        expect(value(p, "special")).toBe(false);
      }
      const init = run.byName("trading-postgres-init");
      for (const key of ["superuserPassword", "replicationPassword", "readonlyPassword", "ownerPasswords", "servicePasswords"]) {
        expect(isSecretInput(init.inputs[key]), key).toBe(true);
        expect(init.options.additionalSecretOutputs).toContain(key);
      }
      for (const r of [...run.ofType("pulumi-nodejs:dynamic/trading:PostgresReplicationSlot"), ...run.ofType("pulumi-nodejs:dynamic/trading:PostgresReplicaCheck")]) {
        expect(isSecretInput(r.inputs.superuserPassword)).toBe(true);
        expect(r.options.additionalSecretOutputs).toContain("superuserPassword");
      }
      // Digests of inputs that hold passwords and kubeconfigs are kept as secrets too.
      const hooks = run.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/trading:") && r.type !== "pulumi-nodejs:dynamic/trading:PostgresMajorGuard");
      expect(hooks.length).toBeGreaterThanOrEqual(4);
      for (const hook of hooks) expect(hook.options.additionalSecretOutputs, hook.name).toEqual(expect.arrayContaining(["fingerprint", "workFingerprint"]));
    });

    test("the init hook carries its version, the migrations and their checksum, so changes reach existing stacks", () => {
      const init = plain(run.byName("trading-postgres-init").inputs);
      // The version is the hash of the serialised code Pulumi ships: any code change updates the hook.
      expect(init.hookVersion).toBe(crypto.createHash("sha256").update(init.__provider).digest("hex"));
      expect(init.scriptsChecksum).toMatch(/^[0-9a-f]{64}$/);
      expect(init.databases.map((d: any) => [d.name, d.owner, d.service, d.privateColumns, d.migrations.map((m: any) => m.version)])).toEqual([
        ["trading_platform", "trading_platform_owner", "trading_platform_app", { users: ["password_hash"] }, ["0001"]],
        ["trading_results", "trading_results_owner", "trading_results_app", {}, ["0001"]],
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
      expect(postgresDatabases.value.trading_results).toMatchObject({ owner: "trading_results_owner", serviceUser: "trading_results_app", readonlyUser: "trading_readonly" });
      expect(postgresUris.secret).toBe(true);
      expect(postgresUris.value.trading_platform.owner).toMatch(/^postgresql:\/\/trading_platform_owner:[A-Za-z0-9]{32}@127\.0\.0\.1:5432\/trading_platform$/);
      expect(postgresUris.value.trading_platform.service).toMatch(/^postgresql:\/\/trading_platform_app:[A-Za-z0-9]{32}@127\.0\.0\.1:5432\/trading_platform$/);
      expect(postgresUris.value.trading_platform.serviceInNetwork).toMatch(/^postgresql:\/\/trading_platform_app:[A-Za-z0-9]{32}@postgres:5432\/trading_platform$/);
      // The owner logs in from the host only: there is no in-network URI for it.
      expect(Object.keys(postgresUris.value.trading_platform).sort()).toEqual(["owner", "readonly", "readonlyInNetwork", "replicas", "service", "serviceInNetwork"]);
      expect(postgresUris.value.trading_platform.replicas).toHaveLength(expected.replicas);
      expect(serviceEnv.secret).toBe(true);
      expect(serviceEnv.value.inNetwork["advanced-trading-platform"].DATABASE_URL).toMatch(/^postgresql\+asyncpg:\/\/trading_platform_app:[A-Za-z0-9]{32}@postgres:5432\/trading_platform$/);
      expect(Object.keys(serviceEnv.value.inNetwork["trading-simulation"]).filter((k) => k.startsWith("POSTGRES_")).sort()).toEqual(["POSTGRES_DB", "POSTGRES_HOST", "POSTGRES_PASSWORD", "POSTGRES_PORT", "POSTGRES_USER"]);
      expect(serviceEnv.value.host["trading-simulation"]).toMatchObject({ POSTGRES_HOST: "127.0.0.1", POSTGRES_PORT: "5432", POSTGRES_DB: "trading_results", POSTGRES_USER: "trading_results_app" });
      // No password appears in any plain (non-secret) output.
      const plainText = JSON.stringify([postgresPrimary, postgresReplicas, postgresDatabases].map((o) => o.value));
      for (const p of run.ofType(PASSWORD)) expect(plainText).not.toContain(p.name.replace(/[^A-Za-z0-9]/g, ""));
    });

    test("MongoDB: the configured members, each started by the uploaded wrapper with the keyfile, on its own volumes", () => {
      const members = Array.from({ length: expected.mongoMembers }, (_, i) => run.byName(`trading-mongo-${i + 1}`));
      expect(members.map((m) => value(m, "name"))).toEqual(
        Array.from({ length: expected.mongoMembers }, (_, i) => (i === 0 ? "trading-mongodb" : `trading-mongodb-${i + 1}`)),
      );
      const keyfiles = new Set<string>();
      members.forEach((member, i) => {
        const n = i + 1;
        expect(value(member, "image")).toBe("sha256:mock-mongo:8.0.32");
        expect(value(member, "entrypoints")).toEqual(["/usr/local/bin/trading-mongo-entrypoint.sh"]);
        const command: string[] = value(member, "command");
        expect(command.slice(0, 5)).toEqual(["mongod", "--replSet", "rs0", "--keyFile", "/etc/mongo-keyfile/keyfile"]);
        expect(command).toContain("--bind_ip_all");
        expect(isSecretInput(member.inputs.uploads)).toBe(true);
        const uploads: any[] = value(member, "uploads");
        const wrapper = uploads.find((u) => u.file === "/usr/local/bin/trading-mongo-entrypoint.sh");
        expect(wrapper.permissions).toBe("0755");
        expect(wrapper.content).toContain("exec docker-entrypoint.sh");
        const keyfile = uploads.find((u) => u.file === "/run/secrets/mongo-keyfile").content;
        expect(keyfile).toMatch(/^[A-Za-z0-9]{756}$/);
        keyfiles.add(keyfile);
        const envs: string[] = value(member, "envs");
        expect(envs).toContain("MONGO_KEYFILE=/etc/mongo-keyfile/keyfile");
        // No member carries root's password (the hook creates root, and rotates it, through __system).
        expect(envs.filter((e) => e.startsWith("MONGO_INITDB_")), `member ${n}`).toEqual([]);
        expect(uploads.map((u) => u.file).sort(), `member ${n}`).toEqual(["/run/secrets/mongo-keyfile", "/usr/local/bin/trading-mongo-entrypoint.sh"]);
        expect(value(member, "volumes").map((v: any) => v.containerPath)).toEqual(["/data/db", "/data/configdb"]);
        expect(value(member, "networksAdvanced")[0].aliases).toEqual([n === 1 ? "mongodb" : `mongodb-${n}`]);
        expect(value(member, "ports")).toEqual([{ internal: 27017, external: 27016 + n, ip: "127.0.0.1" }]);
        // Asked via $HOSTNAME: an init phase's temporary server (bound to 127.0.0.1) would not count.
        expect(value(member, "healthcheck").tests.join(" ")).toContain('mongosh --quiet --norc --host "$HOSTNAME"');
        // Healthy when serving (primary, secondary, or not in a set yet), not merely answering: a
        // replaced member holds up the next one's replacement until it has caught up.
        expect(value(member, "healthcheck").tests.join(" ")).toContain("h.secondary");
      });
      expect(keyfiles.size).toBe(1); // one key shared by every member
    });

    test("MongoDB members wait for one another, the last first and member 1 (the preferred primary) last: a change that replaces them all goes one at a time", () => {
      const count = expected.mongoMembers;
      for (let n = 1; n <= count; n++) {
        const dependsOn: string[] = run.byName(`trading-mongo-${n}`).options.dependsOn ?? [];
        expect(dependsOn.filter((d) => /^trading-mongo-\d+$/.test(d)), `member ${n}`).toEqual(n === count ? [] : [`trading-mongo-${n + 1}`]);
      }
    });

    test("MongoDB init hook: after every member, with the set's members, election timeout, users and files; passwords secret", () => {
      const init = run.byName("trading-mongo-init");
      expect(init.options.dependsOn).toEqual(expect.arrayContaining(Array.from({ length: expected.mongoMembers }, (_, i) => `trading-mongo-${i + 1}`)));
      const inputs = plain(init.inputs);
      expect(inputs.replicaSetName).toBe("rs0");
      expect(inputs.members).toEqual(
        Array.from({ length: expected.mongoMembers }, (_, i) => ({ _id: i, host: `${i === 0 ? "mongodb" : `mongodb-${i + 1}`}:27017`, priority: i === 0 ? 2 : 1 })),
      );
      expect(inputs.clientEndpoints).toEqual(Array.from({ length: expected.mongoMembers }, (_, i) => ({ host: "127.0.0.1", port: 27017 + i })));
      expect(inputs.electionTimeoutMs).toBe(expected.mongoElectionTimeoutMs);
      expect(inputs.users.map((u: any) => [u.name, u.roles])).toEqual([
        ["trading_app", [{ role: "readWrite", db: "trading_configs" }]],
        ["trading_readonly", [{ role: "read", db: "trading_configs" }]],
        // mongo-express's own user, read-only unless adminToolsAccess says read-write.
        ...(expected.adminTools ? [["trading_admin_tools", [{ role: "readAnyDatabase", db: "admin" }, { role: "clusterMonitor", db: "admin" }]]] : []),
      ]);
      expect(inputs.retiredUsers).toEqual(expected.adminTools ? [] : ["trading_admin_tools"]);
      expect(inputs.migrations.map((m: any) => m.file)).toEqual(["init/mongo/trading_configs/migrations/0001_collections.json"]);
      expect(inputs.seeds.map((m: any) => m.file)).toEqual(["init/mongo/trading_configs/seeds/0001_defaults.json"]);
      expect(inputs.filesChecksum).toMatch(/^[0-9a-f]{64}$/);
      for (const key of ["rootPassword", "users"]) {
        expect(isSecretInput(init.inputs[key]), key).toBe(true);
        expect(init.options.additionalSecretOutputs).toContain(key);
      }
    });

    test("Redis: ACL file with hashed passwords, default user off, app user on the seed's key patterns, AOF and maxmemory", () => {
      const redis = run.byName("trading-redis-server");
      expect(value(redis, "command")).toEqual(["redis-server", "/usr/local/etc/redis/redis.conf"]);
      expect(value(redis, "memory")).toBe(2 * expected.redisMaxMemoryMb + 64);
      expect(isSecretInput(redis.inputs.uploads)).toBe(true);
      const uploads: any[] = value(redis, "uploads");
      const conf: string = uploads.find((u) => u.file === "/usr/local/etc/redis/redis.conf").content;
      expect(conf).toMatch(/^appendonly yes$/m);
      expect(conf).toMatch(new RegExp(`^maxmemory ${expected.redisMaxMemoryMb}mb$`, "m"));
      expect(conf).toMatch(/^maxmemory-policy volatile-lru$/m);
      expect(conf).toMatch(/^aclfile \/usr\/local\/etc\/redis\/users\.acl$/m);
      const acl: string = uploads.find((u) => u.file === "/usr/local/etc/redis/users.acl").content;
      expect(acl).toMatch(/^user default off /m);
      expect(acl).toMatch(/^user trading_app on #[0-9a-f]{64} resetkeys ~config:\* ~exchanges:\* ~session:\* ~price:\* ~system:\* /m);
      expect(acl).not.toMatch(/nopass|>/);
      for (const name of ["trading-secrets-redis-admin-password", "trading-secrets-redis-app-password", "trading-secrets-redis-healthcheck-password"]) {
        expect(acl).not.toContain(mockPassword(name, plain(run.byName(name).inputs).length));
      }
      expect(value(redis, "healthcheck").tests.join(" ")).toMatch(/REDISCLI_AUTH=.*redis-cli --no-auth-warning --user healthcheck .* ping/);
      const init = run.byName("trading-redis-init");
      expect(init.options.dependsOn).toContain("trading-redis-server");
      expect(plain(init.inputs).user).toBe("admin");
      expect(plain(init.inputs).seeds.map((k: any) => k.key)).toEqual(expect.arrayContaining(["config:trading", "exchanges:config", "system:trading_enabled"]));
      expect(isSecretInput(init.inputs.password)).toBe(true);
      expect(init.options.additionalSecretOutputs).toContain("password");
    });

    test("InfluxDB 2.7: no setup mode and no operator token in the container (the hook onboards a new server), then buckets, retention, task and token scopes", () => {
      const influx = run.byName("trading-influxdb-server");
      expect(value(influx, "image")).toMatch(/^sha256:mock-influxdb:2\.7\./);
      const envs: string[] = value(influx, "envs");
      expect(envs.sort()).toEqual(["INFLUXDB_ADMIN_PASSWORD_FILE=/run/secrets/influxdb-admin-password", "INFLUXDB_ADMIN_USER=admin", "INFLUXD_REPORTING_DISABLED=true"]);
      expect(value(influx, "uploads").map((u: any) => u.file)).not.toContain("/run/secrets/influxdb-admin-token");
      const declaredToken = plain(run.byName("trading-influxdb-init").inputs).adminToken;
      expect(JSON.stringify(value(influx, "uploads"))).not.toContain(declaredToken);
      // The wrapper applies the declared admin password to a kept bolt file, then runs the image's entrypoint with influxd.
      expect(value(influx, "entrypoints")).toEqual(["/usr/local/bin/trading-influxdb-entrypoint.sh"]);
      expect(value(influx, "command")).toEqual(["influxd"]);
      expect(isSecretInput(influx.inputs.uploads)).toBe(true);
      expect(value(influx, "volumes").map((v: any) => v.containerPath)).toEqual(["/var/lib/influxdb2", "/etc/influxdb2"]);
      const init = run.byName("trading-influxdb-init");
      expect(init.options.dependsOn).toContain("trading-influxdb-server");
      const inputs = plain(init.inputs);
      expect(inputs.url).toBe("http://127.0.0.1:8086");
      expect(inputs.setupBucket).toBe("market-data");
      const raw = expected.influxRetentionDays * 86400;
      expect(inputs.buckets.map((b: any) => [b.name, b.retentionSeconds])).toEqual([
        ["market-data", raw],
        ["trades", raw],
        ["performance", raw],
        ["system-metrics", raw],
        ["market-data-1h", expect.any(Number)],
      ]);
      expect(inputs.task.flux).toContain('to(bucket: "market-data-1h", org: "trading-platform")');
      expect(Object.keys(inputs.tokens)).toEqual(["read", "write"]);
      expect(isSecretInput(init.inputs.adminToken)).toBe(true);
      expect(init.options.additionalSecretOutputs).toEqual(expect.arrayContaining(["adminToken", "tokenValues"]));
    });

    test("outputs: Mongo, Redis and InfluxDB endpoints in plain text; URIs, tokens and env maps only as secrets", () => {
      const { mongoReplicaSet, mongoUris, redisServer, redisUrls, influxdb, influxdbTokens, serviceEnv } = run.outputs;
      expect(mongoReplicaSet.secret).toBe(false);
      expect(mongoReplicaSet.value.members).toHaveLength(expected.mongoMembers);
      expect(mongoUris.secret).toBe(true);
      expect(mongoUris.value.app).toMatch(/^mongodb:\/\/trading_app:[A-Za-z0-9]{32}@mongodb:27017(,mongodb-\d:27017)*\/trading_configs\?replicaSet=rs0&authSource=admin$/);
      expect(mongoUris.value.appHost).toMatch(/^mongodb:\/\/trading_app:[A-Za-z0-9]{32}@127\.0\.0\.1:27017\/trading_configs\?directConnection=true&authSource=admin$/);
      expect(redisServer.secret).toBe(false);
      expect(redisUrls.secret).toBe(true);
      expect(redisUrls.value.inNetwork).toMatch(/^redis:\/\/trading_app:[A-Za-z0-9]{32}@redis:6379\/0$/);
      expect(influxdb.secret).toBe(false);
      expect(influxdb.value).toMatchObject({ url: "http://127.0.0.1:8086", urlInNetwork: "http://influxdb:8086", org: "trading-platform", bucket: "market-data" });
      expect(influxdbTokens.secret).toBe(true);
      expect(serviceEnv.secret).toBe(true);
      const simulation = serviceEnv.value.inNetwork["trading-simulation"];
      expect(simulation).toMatchObject({ MONGODB_HOST: "mongodb", MONGODB_PORT: "27017", MONGODB_USERNAME: "trading_app", MONGODB_DATABASE: "trading_configs" });
      expect(serviceEnv.value.host["trading-simulation"]).toMatchObject({ MONGODB_HOST: "127.0.0.1", MONGODB_PORT: "27017" });
      const platform = serviceEnv.value.inNetwork["advanced-trading-platform"];
      expect(Object.keys(platform).sort()).toEqual(["DATABASE_URL", "INFLUXDB_BUCKET", "INFLUXDB_ORG", "INFLUXDB_TOKEN", "INFLUXDB_URL", "REDIS_URL"]);
      expect(platform).toMatchObject({ INFLUXDB_URL: "http://influxdb:8086", INFLUXDB_TOKEN: "mock-write-token", INFLUXDB_ORG: "trading-platform", INFLUXDB_BUCKET: "market-data" });
      // No credential in any plain output.
      const plainText = JSON.stringify([mongoReplicaSet, redisServer, influxdb].map((o) => o.value));
      for (const p of run.ofType(PASSWORD)) expect(plainText).not.toContain(mockPassword(p.name, value(p, "length")).slice(0, 20));
      expect(plainText).not.toContain("mock-write-token");
    });

    test(`admin tools are ${expected.adminTools ? "on, health-gated, on 127.0.0.1, with generated logins and every PostgreSQL server pre-registered" : "off"}`, () => {
      const { adminTools, adminToolLogins } = run.outputs;
      if (!expected.adminTools) {
        expect(run.resources.filter((r) => /pgadmin|mongo-express/.test(r.name))).toEqual([]);
        expect(adminTools.value).toBeNull();
        return;
      }
      const pgadmin = run.byName("trading-admin-tools-pgadmin");
      expect(pgadmin.options.dependsOn).toEqual(expect.arrayContaining(["trading-postgres-init", "trading-mongo-init"]));
      expect(value(pgadmin, "ports")).toEqual([{ internal: 8080, external: 5050, ip: "127.0.0.1" }]);
      expect(value(pgadmin, "healthcheck").tests[1]).toContain("wget -q -O /dev/null http://127.0.0.1:8080/misc/ping");
      expect(value(pgadmin, "entrypoints")).toEqual(["/usr/local/bin/trading-pgadmin-entrypoint.sh"]);
      const envs: string[] = value(pgadmin, "envs");
      expect(envs).toEqual(expect.arrayContaining(["PGADMIN_DEFAULT_PASSWORD_FILE=/run/secrets/pgadmin-password", "PGADMIN_REPLACE_SERVERS_ON_STARTUP=True"]));
      expect(envs.some((e) => e.startsWith("PGADMIN_DEFAULT_PASSWORD="))).toBe(false);
      expect(isSecretInput(pgadmin.inputs.uploads)).toBe(true);
      const uploads: any[] = value(pgadmin, "uploads");
      const servers = JSON.parse(uploads.find((u) => u.file === "/pgadmin4/servers.json").content).Servers;
      expect(Object.values(servers).map((s: any) => [s.Host, s.Port, s.Username, s.PassFile])).toEqual([
        ["postgres", 5432, "trading_admin_tools", "/pgpass"],
        ...Array.from({ length: expected.replicas }, (_, i) => [`postgres-replica-${i + 1}`, 5432, "trading_admin_tools", "/pgpass"]),
      ]);
      const pgpass: string = uploads.find((u) => u.file === "/run/secrets/pgadmin-pgpass").content;
      expect(pgpass.trim().split("\n")).toEqual([
        `postgres:5432:*:trading_admin_tools:${mockPassword("trading-secrets-postgres-trading-admin-tools-password", 32)}`,
        ...Array.from({ length: expected.replicas }, (_, i) => `postgres-replica-${i + 1}:5432:*:trading_admin_tools:${mockPassword("trading-secrets-postgres-trading-admin-tools-password", 32)}`),
      ]);

      const mongoExpress = run.byName("trading-admin-tools-mongo-express");
      expect(value(mongoExpress, "ports")).toEqual([{ internal: 8081, external: 8081, ip: "127.0.0.1" }]);
      expect(value(mongoExpress, "healthcheck").tests[1]).toContain("wget -q -O /dev/null http://127.0.0.1:8081/status");
      const meEnvs: string[] = value(mongoExpress, "envs");
      expect(meEnvs).toEqual(expect.arrayContaining(["ME_CONFIG_BASICAUTH=true", "ME_CONFIG_MONGODB_URL_FILE=/run/secrets/mongo-express-url"]));
      expect(meEnvs.some((e) => /^ME_CONFIG_(MONGODB_URL|BASICAUTH_PASSWORD|SITE_SESSIONSECRET)=/.test(e))).toBe(false);
      const meUploads: any[] = value(mongoExpress, "uploads");
      expect(meUploads.find((u) => u.file === "/run/secrets/mongo-express-url").content).toBe(
        `mongodb://trading_admin_tools:${mockPassword("trading-secrets-mongo-admin-tools-password", 32)}@mongodb:27017,mongodb-2:27017,mongodb-3:27017/admin?replicaSet=rs0&authSource=admin`,
      );
      expect(meEnvs).toContain("ME_CONFIG_OPTIONS_READONLY=true");

      expect(adminTools).toEqual({
        secret: false,
        value: {
          pgadmin: { container: "trading-pgadmin", url: "http://127.0.0.1:5050", email: "admin@trading.example.com" },
          mongoExpress: { container: "trading-mongo-express", url: "http://127.0.0.1:8081", user: "admin" },
        },
      });
      expect(adminToolLogins.secret).toBe(true);
      expect(adminToolLogins.value.pgadmin.password).toBe(mockPassword("trading-secrets-pgadmin-password", 32));
    });

    test("the outputs are exactly the documented contract (components/outputs.ts); credentials only as secrets", () => {
      const { STACK_OUTPUT_NAMES } = requireBuilt("components/outputs.js");
      expect(Object.keys(run.outputs).sort()).toEqual([...STACK_OUTPUT_NAMES].sort());
      const secret = ["postgresUris", "mongoUris", "redisUrls", "influxdbTokens", "adminConnections", "serviceEnv", ...(expected.adminTools ? ["adminToolLogins"] : [])];
      for (const name of STACK_OUTPUT_NAMES) expect(run.outputs[name].secret, name).toBe(secret.includes(name));
      const admin = run.outputs.adminConnections.value;
      expect(admin.postgres.primary).toBe(`postgresql://postgres:${mockPassword("trading-secrets-postgres-postgres-password", 32)}@127.0.0.1:5432/postgres`);
      expect(admin.postgres.replicas).toHaveLength(expected.replicas);
      expect(admin.mongo.members).toHaveLength(expected.mongoMembers);
      expect(admin.mongo.members[0]).toMatch(/^mongodb:\/\/root:[A-Za-z0-9]{32}@127\.0\.0\.1:27017\/admin\?directConnection=true&authSource=admin$/);
      expect(admin.redis.url).toMatch(/^redis:\/\/admin:[A-Za-z0-9]{32}@127\.0\.0\.1:6379\/0$/);
      expect(admin.influxdb).toEqual({ url: "http://127.0.0.1:8086", token: mockPassword("trading-secrets-influxdb-admin-token", 64) });
      expect(run.outputs.postgresReplicas.value.map((r: { slot: string }) => r.slot)).toEqual(Array.from({ length: expected.replicas }, (_, i) => `trading_replica_${i + 1}`));
    });
  });
}
