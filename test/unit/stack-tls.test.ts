// The dev stack with `tls` on, under Pulumi mocks with its real Pulumi.dev.yaml: the CA and each
// server's certificate (@pulumi/tls), what the containers get, what the hooks verify
// against, the URIs and env maps; and what turning it on does to a stack that is up.
import { beforeAll, describe, expect, test } from "vitest";
import { applyAliases } from "../support/aliases";
import { graphChanges, isSecretInput, plain, runProgram, stackConfig, PROJECT, type ProgramRun } from "../support/pulumi";

const CA_FILE = "/etc/trading-db-stack/ca.crt";
const container = (run: ProgramRun, name: string) => plain(run.byName(name).inputs);
const upload = (run: ProgramRun, name: string, file: string) => plain(run.byName(name).inputs.uploads).find((u: any) => u.file === file);

describe("dev with tls", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram("dev", { tls: "true" });
  });

  test("a CA of the stack's own, and a certificate per PostgreSQL server for every name it is reached by, renewed 30 days before its end", () => {
    const ca = plain(run.byName("trading-tls-ca").inputs);
    expect(ca).toMatchObject({ isCaCertificate: true, allowedUses: ["cert_signing", "crl_signing"], validityPeriodHours: 87600 });
    expect(plain(run.byName("trading-tls-ca-key").inputs)).toMatchObject({ algorithm: "ECDSA", ecdsaCurve: "P256" });
    const names = (server: string) => {
      const request = plain(run.byName(`trading-tls-${server}-request`).inputs);
      return { dns: request.dnsNames, ips: request.ipAddresses };
    };
    expect(names("postgres-primary")).toEqual({ dns: ["postgres", "postgres-internal", "trading-postgres", "localhost"], ips: ["127.0.0.1"] });
    expect(names("postgres-replica-1")).toEqual({ dns: ["postgres-replica-1", "trading-postgres-replica-1", "localhost"], ips: ["127.0.0.1"] });
    for (const server of ["postgres-primary", "postgres-replica-1", "redis", "influxdb", "mongo-1"]) {
      expect(plain(run.byName(`trading-tls-${server}-certificate`).inputs)).toMatchObject({
        validityPeriodHours: 17520,
        earlyRenewalHours: 720,
        allowedUses: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
      });
    }
    expect(names("redis")).toEqual({ dns: ["redis", "trading-redis", "localhost"], ips: ["127.0.0.1"] });
    expect(names("influxdb")).toEqual({ dns: ["influxdb", "trading-influxdb", "localhost"], ips: ["127.0.0.1"] });
    expect(names("mongo-2")).toEqual({ dns: ["mongodb-2", "trading-mongodb-2", "localhost"], ips: ["127.0.0.1"] });
    // Every server: each PostgreSQL server and MongoDB member its own.
    expect(run.ofType("tls:index/locallySignedCert:LocallySignedCert").map((r) => r.name).sort()).toEqual([
      "trading-tls-influxdb-certificate",
      "trading-tls-mongo-1-certificate",
      "trading-tls-mongo-2-certificate",
      "trading-tls-mongo-3-certificate",
      "trading-tls-postgres-primary-certificate",
      "trading-tls-postgres-replica-1-certificate",
      "trading-tls-redis-certificate",
    ]);
  });

  test("PostgreSQL runs with ssl on, its key a secret file of the postgres user only, and pg_hba refusing every network connection in clear", () => {
    for (const name of ["trading-postgres-primary", "trading-postgres-replica-1"]) {
      const command: string[] = container(run, name).command;
      expect(command).toEqual(expect.arrayContaining(["ssl=on", "ssl_cert_file=/run/secrets/tls-server.crt", "ssl_key_file=/run/secrets/tls-server.key", "ssl_min_protocol_version=TLSv1.2"]));
      // The uploads hold the key: sent as a secret, the file the postgres user's alone.
      expect(isSecretInput(run.byName(name).inputs.uploads), name).toBe(true);
      expect(upload(run, name, "/run/secrets/tls-server.key")).toMatchObject({ content: expect.stringContaining("mock trading-tls-"), owner: "999", group: "999", permissions: "0400" });
      expect(upload(run, name, "/run/secrets/tls-ca.crt").content).toBe(plain(run.outputs.tls.value).caCertificate);
      const hba = upload(run, name, "/etc/trading-db-stack/pg_hba.conf.template").content;
      const lines = hba.split("\n").filter((l: string) => l && !l.startsWith("#"));
      // Right after the local rules: no network connection in clear, of any database or replication.
      expect(lines.slice(2, 4)).toEqual([expect.stringMatching(/^hostnossl\s+all\s+all\s+all\s+reject$/), expect.stringMatching(/^hostnossl\s+replication\s+all\s+all\s+reject$/)]);
    }
    expect(container(run, "trading-postgres-replica-1").envs).toContain("PRIMARY_SSLROOTCERT=/run/secrets/tls-ca.crt");
  });

  test("Redis: the TLS port only, with the server's certificate a secret file of the redis user; the healthcheck verifies it", () => {
    const redis = container(run, "trading-redis-server");
    const conf = upload(run, "trading-redis-server", "/usr/local/etc/redis/redis.conf").content;
    expect(conf).toMatch(/^port 0$/m);
    expect(conf).toMatch(/^tls-port 6379$/m);
    expect(conf).toMatch(/^tls-auth-clients no$/m);
    expect(upload(run, "trading-redis-server", "/run/secrets/tls-server.key")).toMatchObject({ owner: "999", permissions: "0400" });
    expect(redis.healthcheck.tests.join(" ")).toContain("--tls --cacert /run/secrets/tls-ca.crt");
  });

  test("InfluxDB: https only, with its certificate and key secret files of the influxdb user; the healthcheck verifies it against the CA", () => {
    const influx = container(run, "trading-influxdb-server");
    expect(influx.envs).toEqual(expect.arrayContaining(["INFLUXD_TLS_CERT=/run/secrets/tls-server.crt", "INFLUXD_TLS_KEY=/run/secrets/tls-server.key", "INFLUXD_TLS_MIN_VERSION=1.2"]));
    expect(upload(run, "trading-influxdb-server", "/run/secrets/tls-server.key")).toMatchObject({ owner: "1000", permissions: "0400" });
    expect(upload(run, "trading-influxdb-server", "/run/secrets/tls-ca.crt").content).toBe(plain(run.outputs.tls.value).caCertificate);
    expect(influx.healthcheck.tests.join(" ")).toContain("SSL_CERT_FILE=/run/secrets/tls-ca.crt influx ping --host https://127.0.0.1:8086");
  });

  test("MongoDB: TLS only for clients and members, each member's certificate and key one PEM of the mongodb user; the probes over TLS", () => {
    for (const n of [1, 2, 3]) {
      const name = `trading-mongo-${n}`;
      const member = container(run, name);
      expect(member.command.join(" ")).toContain(
        "--tlsMode requireTLS --tlsCertificateKeyFile /run/secrets/tls-server.pem --tlsCAFile /run/secrets/tls-ca.crt --tlsAllowConnectionsWithoutCertificates",
      );
      const pem = upload(run, name, "/run/secrets/tls-server.pem");
      expect(pem).toMatchObject({ owner: "999", group: "999", permissions: "0400" });
      // Certificate then key, this member's own.
      expect(pem.content).toMatch(new RegExp(`mock trading-tls-mongo-${n}-certificate.*\\nmock trading-tls-mongo-${n}-key`, "s"));
      expect(isSecretInput(run.byName(name).inputs.uploads)).toBe(true);
      for (const check of [member.healthcheck.tests.join(" ")]) expect(check).toContain("mongosh --quiet --norc --tls --tlsCAFile /run/secrets/tls-ca.crt --tlsAllowInvalidHostnames");
    }
  });

  test("mongoTlsMode: the steps of turning tls on or off for a set that is up (allowTLS, preferTLS) reach mongod; anything else is refused", async () => {
    for (const mode of ["allowTLS", "preferTLS"]) {
      const step = await runProgram("dev", { tls: "true", mongoTlsMode: mode });
      expect(container(step, "trading-mongo-1").command.join(" ")).toContain(`--tlsMode ${mode} --tlsCertificateKeyFile`);
    }
    await expect(runProgram("dev", { tls: "true", mongoTlsMode: "disabled" })).rejects.toThrow(/mongoTlsMode.*requireTLS, preferTLS, allowTLS/);
  });

  test("the admin tools verify the servers: pgAdmin with verify-full and the CA in its storage folder, mongo-express with TLS against the CA file", () => {
    const servers = JSON.parse(upload(run, "trading-admin-tools-pgadmin", "/pgadmin4/servers.json").content).Servers;
    // With ConnectionParameters pgAdmin reads no top-level PassFile: the passfile goes there too.
    for (const server of Object.values<any>(servers)) {
      expect(server.ConnectionParameters).toEqual({ sslmode: "verify-full", sslrootcert: "/tls-ca.crt", passfile: "/pgpass" });
      expect(server.PassFile).toBeUndefined();
    }
    expect(container(run, "trading-admin-tools-pgadmin").envs).toContain("PGADMIN_TLS_CA_SOURCE=/run/secrets/tls-ca.crt");
    const ca = plain(run.outputs.tls.value).caCertificate;
    expect(upload(run, "trading-admin-tools-pgadmin", "/run/secrets/tls-ca.crt")).toMatchObject({ content: ca, owner: "5050" });
    expect(upload(run, "trading-admin-tools-mongo-express", "/run/secrets/tls-ca.crt")).toMatchObject({ content: ca, owner: "1000" });
    expect(container(run, "trading-admin-tools-mongo-express").envs).toEqual(
      expect.arrayContaining(["ME_CONFIG_MONGODB_SSL=true", "ME_CONFIG_MONGODB_SSLVALIDATE=true", "ME_CONFIG_MONGODB_CA_FILE=/run/secrets/tls-ca.crt"]),
    );
  });

  test("every hook verifies the server against the CA; every URI and env map verifies it too", () => {
    for (const hook of ["trading-postgres-init", "trading-postgres-replica-1-slot", "trading-postgres-replica-1-check", "trading-redis-init", "trading-influxdb-init", "trading-mongo-init"]) {
      expect(plain(run.byName(hook).inputs).tlsCa, hook).toBe(plain(run.outputs.tls.value).caCertificate);
    }
    expect(run.outputs.tls.value).toEqual({ caCertificate: expect.any(String), caFile: CA_FILE });
    for (const [db, uris] of Object.entries<any>(run.outputs.postgresUris.value)) {
      for (const uri of [uris.owner, uris.service, uris.serviceInNetwork, uris.readonly, uris.readonlyInNetwork, ...uris.replicas]) {
        expect(uri, db).toMatch(new RegExp(`\\?sslmode=verify-full&sslrootcert=${CA_FILE}$`));
      }
    }
    const admin = run.outputs.adminConnections.value;
    for (const uri of [admin.postgres.primary, ...admin.postgres.replicas]) expect(uri).toMatch(/\?sslmode=verify-full&sslrootcert=/);
    expect(admin.redis.url).toMatch(/^rediss:\/\/admin:/);
    expect(admin.influxdb.url).toBe("https://127.0.0.1:8086");
    expect(plain(run.outputs.influxdb.value)).toMatchObject({ url: "https://127.0.0.1:8086", urlInNetwork: "https://influxdb:8086" });
    for (const uri of admin.mongo.members) expect(uri).toMatch(new RegExp(`\\?directConnection=true&authSource=admin&tls=true&tlsCAFile=${CA_FILE}$`));
    for (const uri of Object.values<string>(run.outputs.mongoUris.value)) expect(uri).toMatch(new RegExp(`&tls=true&tlsCAFile=${CA_FILE}$`));
    expect(plain(run.byName("trading-influxdb-init").inputs).url).toBe("https://127.0.0.1:8086");
    for (const place of ["inNetwork", "host"] as const) {
      const env = run.outputs.serviceEnv.value[place];
      expect(env["advanced-trading-platform"].DATABASE_URL).toMatch(/^postgresql\+asyncpg:\/\/.*\/trading_platform\?ssl=verify-full$/);
      for (const consumer of ["advanced-trading-platform", "trading-simulation"]) expect(env[consumer]).toMatchObject({ PGSSLMODE: "verify-full", PGSSLROOTCERT: CA_FILE });
      expect(env["advanced-trading-platform"].REDIS_URL).toMatch(new RegExp(`^rediss://.*/0\\?ssl_cert_reqs=required&ssl_ca_certs=${CA_FILE}&ssl_check_hostname=true$`));
      expect(env["advanced-trading-platform"]).toMatchObject({ INFLUXDB_URL: expect.stringMatching(/^https:\/\//), INFLUXDB_SSL_CA_CERT: CA_FILE });
      expect(env["trading-simulation"]).toMatchObject({ MONGODB_URL: expect.stringMatching(new RegExp(`&tls=true&tlsCAFile=${CA_FILE}$`)), MONGODB_TLS: "true", MONGODB_TLS_CA_FILE: CA_FILE });
    }
  });

  test("a tls stack made by the release before keeps its certificates: they were children of their server's component, and are aliased from there", () => {
    const isCert = (type: string) => /^tls:index\/(privateKey:PrivateKey|certRequest:CertRequest|locallySignedCert:LocallySignedCert)$/.test(type);
    const componentOf: Record<string, string> = { postgres: "trading-postgres", redis: "trading-redis" };
    const urnOf = (name: string) => run.resources.find((r) => r.name === name)!.options.urn;
    // That release's state: PostgreSQL's and Redis's keys, requests and certificates under their server's component.
    const olds = run.resources
      .filter((r) => !isCert(r.type) || /^trading-tls-(postgres|redis|ca-key$)/.test(r.name))
      .map((r) => {
        if (!isCert(r.type) || r.name === "trading-tls-ca-key") return r.options.urn;
        const server = /^trading-tls-(postgres|redis)/.exec(r.name)![1];
        const parentType = urnOf(componentOf[server]).split("::")[2];
        return `${r.options.urn.split("::").slice(0, 2).join("::")}::${parentType}$${r.type}::${r.name}`;
      });
    const outcome = applyAliases(olds, run.resources);
    expect(outcome.errors).toEqual([]);
    expect(outcome.deleted).toEqual([]);
    // New: MongoDB's and InfluxDB's, which that release had not.
    expect(outcome.created.map((u) => u.split("::").pop()).every((n) => /^trading-tls-(mongo|influxdb)/.test(n!))).toBe(true);
    expect([...outcome.renamed.keys()].map((u) => u.split("::").pop()).sort()).toEqual(
      run.resources.filter((r) => isCert(r.type) && /^trading-tls-(postgres|redis)/.test(r.name)).map((r) => r.name).sort(),
    );
  });

  test("without tls: no certificate, URIs and env maps as before, and the tls output null", async () => {
    const plainRun = await runProgram("dev");
    expect(plainRun.resources.filter((r) => r.type.startsWith("tls:"))).toEqual([]);
    expect(plainRun.outputs.tls.value).toBeNull();
    expect(plainRun.outputs.postgresUris.value.trading_platform.service).not.toContain("?");
    expect(plainRun.outputs.serviceEnv.value.host["trading-simulation"].PGSSLMODE).toBeUndefined();
  });

  test("turning tls on replaces every server (MongoDB's members one at a time) and the admin tools once and re-runs the hooks; nothing else", async () => {
    const change = graphChanges(await runProgram("dev"), run);
    expect(change.removed).toEqual([]);
    expect(change.added.every((name) => name.startsWith("trading-tls"))).toBe(true);
    expect(change.changed).toEqual([
      "trading-admin-tools-mongo-express",
      "trading-admin-tools-pgadmin",
      "trading-influxdb-init",
      "trading-influxdb-server",
      "trading-mongo-1",
      "trading-mongo-2",
      "trading-mongo-3",
      "trading-mongo-init",
      "trading-postgres-init",
      "trading-postgres-primary",
      "trading-postgres-replica-1",
      "trading-postgres-replica-1-check",
      "trading-postgres-replica-1-slot",
      "trading-redis-init",
      "trading-redis-server",
    ]);
  });
});

describe("the real engine suite's @pulumi/tls (openssl), fed the stack's own inputs", () => {
  test("makes a CA and certificates that chain to it and hold the requested names", async () => {
    const { X509Certificate } = await import("crypto");
    const { realiseTlsResource } = await import("../support/tls");
    const run = await runProgram("dev", { tls: "true" });
    const inputs = (name: string) => plain(run.byName(name).inputs);
    const caKey = realiseTlsResource("tls:index/privateKey:PrivateKey", inputs("trading-tls-ca-key")).privateKeyPem as string;
    const ca = realiseTlsResource("tls:index/selfSignedCert:SelfSignedCert", { ...inputs("trading-tls-ca"), privateKeyPem: caKey }).certPem as string;
    const key = realiseTlsResource("tls:index/privateKey:PrivateKey", inputs("trading-tls-postgres-primary-key")).privateKeyPem as string;
    const request = realiseTlsResource("tls:index/certRequest:CertRequest", { ...inputs("trading-tls-postgres-primary-request"), privateKeyPem: key }).certRequestPem as string;
    const certificate = realiseTlsResource("tls:index/locallySignedCert:LocallySignedCert", {
      ...inputs("trading-tls-postgres-primary-certificate"),
      certRequestPem: request,
      caCertPem: ca,
      caPrivateKeyPem: caKey,
    }).certPem as string;
    const caCert = new X509Certificate(ca);
    const server = new X509Certificate(certificate);
    expect(caCert.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.verify(caCert.publicKey)).toBe(true);
    expect(server.checkIP("127.0.0.1")).toBe("127.0.0.1");
    for (const name of ["postgres", "postgres-internal", "trading-postgres", "localhost"]) expect(server.checkHost(name)).toBe(name);
    expect(server.checkHost("redis")).toBeUndefined();
    expect(server.keyUsage).toEqual(expect.arrayContaining(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]));
  });
});

describe("prod on Kubernetes, with tls as shipped (Pulumi.prod.yaml)", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram("prod");
  });

  test("prod's own config turns tls on: the tls output is set, and no consumer URI or env value is a clear one", () => {
    expect(String(stackConfig("prod")[`${PROJECT}:tls`])).toBe("true");
    expect(run.outputs.tls.value).toEqual({ caCertificate: expect.any(String), caFile: CA_FILE });
    for (const place of ["inNetwork", "host"] as const) {
      const values = Object.values<Record<string, string>>(run.outputs.serviceEnv.value[place]).flatMap((env) => Object.values(env));
      expect(values.filter((v) => /^(postgresql(\+asyncpg)?|mongodb|redis|http):\/\//.test(v) && !/(sslmode=verify-full|ssl=verify-full|tls=true)/.test(v))).toEqual([]);
    }
  });

  test("turning tls on for a prod stack that is up: certificates, the CA ConfigMaps and the CloudNativePG Secrets are new; the pods roll, the Cluster updates in place; nothing is removed", async () => {
    const change = graphChanges(await runProgram("prod", { tls: "false" }), run);
    expect(change.removed).toEqual([]);
    expect(change.added.filter((name) => !name.startsWith("trading-tls"))).toEqual([
      "trading-ca-trading-platform",
      "trading-ca-trading-simulation",
      "trading-postgres-server-ca-secret",
      "trading-postgres-server-tls-secret",
    ]);
    expect(change.changed.filter((name) => /-(members|server|cluster)$/.test(name)).sort()).toEqual(["trading-influxdb-server", "trading-mongo-members", "trading-postgres-cluster", "trading-redis-server"]);
  });
  const objects = (kind: string) => run.resources.filter((r) => r.type.startsWith("kubernetes:") && r.type.endsWith(`:${kind}`));
  const named = (kind: string, name: string) => plain(objects(kind).find((r) => plain(r.inputs).metadata?.name === name)!.inputs);

  test("PostgreSQL: CloudNativePG serves the stack's certificate for its Services' every name; pg_hba refuses clear connections first; the Cluster valid against its CRD", async () => {
    const { crdErrors, loadCrdValidators } = await import("../support/crds");
    const cluster = named("Cluster", "trading-postgres");
    expect(crdErrors(loadCrdValidators(), cluster)).toEqual([]);
    expect(cluster.spec.certificates).toEqual({ serverCASecret: "trading-postgres-server-ca", serverTLSSecret: "trading-postgres-server-tls" });
    expect(cluster.spec.postgresql.pg_hba.slice(0, 2)).toEqual(["hostnossl all all all reject", "host replication all all reject"]);
    // Kept with the Cluster by a destroy with retainData (its instances still name them), taken over by the next stack.
    for (const secret of ["trading-postgres-server-tls", "trading-postgres-server-ca"]) {
      const resource = objects("Secret").find((r) => plain(r.inputs).metadata.name === secret)!;
      expect(resource.options.retainOnDelete, secret).toBe(true);
      expect(resource.options.provider, secret).toContain("trading-kubernetes-adopting-provider");
    }
    const server = objects("Secret").find((r) => plain(r.inputs).metadata.name === "trading-postgres-server-tls")!;
    expect(isSecretInput(server.inputs.stringData)).toBe(true);
    expect(plain(server.inputs)).toMatchObject({ type: "kubernetes.io/tls", metadata: { labels: { "cnpg.io/reload": "true" } } });
    expect(Object.keys(plain(server.inputs).stringData).sort()).toEqual(["tls.crt", "tls.key"]);
    expect(named("Secret", "trading-postgres-server-ca").stringData).toEqual({ "ca.crt": run.outputs.tls.value.caCertificate });
    const request = plain(run.byName("trading-tls-postgres-request").inputs);
    for (const service of ["trading-postgres-rw", "trading-postgres-ro", "trading-postgres-r"]) {
      expect(request.dnsNames).toEqual(expect.arrayContaining([service, `${service}.trading-db`, `${service}.trading-db.svc`, `${service}.trading-db.svc.cluster.local`]));
    }
    // Where port-forwards (the hooks, verify, forward) arrive.
    expect(request.dnsNames).toContain("localhost");
    expect(request.ipAddresses).toEqual(["127.0.0.1"]);
  });

  test("Redis: its certificate for the Service, the headless name and the pod, mounted from its Secret; the TLS port only; the probes over TLS", () => {
    const request = plain(run.byName("trading-tls-redis-request").inputs);
    expect(request.dnsNames).toEqual(
      expect.arrayContaining(["trading-redis", "trading-redis.trading-db.svc.cluster.local", "trading-redis-headless.trading-db.svc", "trading-redis-0.trading-redis-headless.trading-db.svc.cluster.local", "localhost"]),
    );
    expect(Object.keys(named("Secret", "trading-redis-secrets").stringData).sort()).toEqual(
      ["run-secrets-redis-healthcheck-password", "run-secrets-tls-ca.crt", "run-secrets-tls-server.crt", "run-secrets-tls-server.key", "usr-local-etc-redis-users.acl"].sort(),
    );
    expect(Object.values<string>(named("ConfigMap", "trading-redis-files").data).join("\n")).toMatch(/^tls-port 6379$/m);
    const container = named("StatefulSet", "trading-redis").spec.template.spec.containers[0];
    expect(container.readinessProbe.exec.command.join(" ")).toContain("--tls --cacert /run/secrets/tls-ca.crt");
  });

  test("InfluxDB: its certificate for the Service and the pod; https only; the probes verify against the CA; the in-cluster URL is https", () => {
    const request = plain(run.byName("trading-tls-influxdb-request").inputs);
    expect(request.dnsNames).toEqual(expect.arrayContaining(["trading-influxdb", "trading-influxdb.trading-db.svc.cluster.local", "trading-influxdb-0.trading-influxdb-headless.trading-db.svc.cluster.local", "localhost"]));
    expect(Object.keys(named("Secret", "trading-influxdb-secrets").stringData)).toEqual(expect.arrayContaining(["run-secrets-tls-ca.crt", "run-secrets-tls-server.crt", "run-secrets-tls-server.key"]));
    const container = named("StatefulSet", "trading-influxdb").spec.template.spec.containers[0];
    expect(container.env).toEqual(expect.arrayContaining([{ name: "INFLUXD_TLS_CERT", value: "/run/secrets/tls-server.crt" }]));
    expect(container.readinessProbe.exec.command.join(" ")).toContain("SSL_CERT_FILE=/run/secrets/tls-ca.crt influx ping --host https://");
    expect(run.outputs.serviceEnv.value.inNetwork["advanced-trading-platform"].INFLUXDB_URL).toBe("https://trading-influxdb.trading-db.svc.cluster.local:8086");
  });

  test("MongoDB: one certificate for the set's pods, holding every host of the replica-set config; the members' TLS arguments and probes", () => {
    const request = plain(run.byName("trading-tls-mongo-request").inputs);
    const hosts = plain(run.byName("trading-mongo-init").inputs).members.map((m: { host: string }) => m.host.split(":")[0]);
    expect(hosts).toHaveLength(3);
    expect(request.dnsNames).toEqual(expect.arrayContaining([...hosts, "localhost"]));
    expect(request.ipAddresses).toEqual(["127.0.0.1"]);
    const set = objects("StatefulSet").map((r) => plain(r.inputs)).find((o) => o.spec.template.spec.containers[0].args?.includes("--replSet"))!;
    const member = set.spec.template.spec.containers[0];
    expect(member.args).toEqual(expect.arrayContaining(["--tlsMode", "requireTLS", "--tlsCertificateKeyFile", "/run/secrets/tls-server.pem"]));
    expect(member.readinessProbe.exec.command.join(" ")).toContain("--tls --tlsCAFile /run/secrets/tls-ca.crt");
    expect(plain(run.byName("trading-mongo-init").inputs).tlsCa).toBe(run.outputs.tls.value.caCertificate);
    expect(run.outputs.serviceEnv.value.inNetwork["trading-simulation"].MONGODB_URL).toMatch(new RegExp(`\\.svc\\.cluster\\.local:27017/trading_configs\\?replicaSet=rs0&authSource=admin&tls=true&tlsCAFile=${CA_FILE}$`));
  });

  test("each consumer namespace gets the CA as a ConfigMap to mount where the URIs name it; once per namespace", async () => {
    const ca = run.outputs.tls.value.caCertificate;
    const maps = objects("ConfigMap").map((r) => plain(r.inputs)).filter((m) => m.metadata.name === "trading-ca");
    expect(maps.map((m) => [m.metadata.namespace, m.data])).toEqual([
      ["trading-platform", { "ca.crt": ca }],
      ["trading-simulation", { "ca.crt": ca }],
    ]);
    const shared = await runProgram("prod", { tls: "true", kubernetesPlatformNamespace: "trading-apps", kubernetesSimulationNamespace: "trading-apps" });
    expect(shared.resources.filter((r) => r.type === "kubernetes:core/v1:ConfigMap" && plain(r.inputs).metadata.name === "trading-ca").length).toBe(1);
  });

  test("the hooks verify against the CA; the in-cluster URIs verify the servers", () => {
    const ca = run.outputs.tls.value.caCertificate;
    expect(plain(run.byName("trading-postgres-init").inputs).tlsCa).toBe(ca);
    expect(plain(run.byName("trading-redis-init").inputs).tlsCa).toBe(ca);
    expect(plain(run.byName("trading-influxdb-init").inputs).tlsCa).toBe(ca);
    const env = run.outputs.serviceEnv.value.inNetwork;
    expect(env["trading-simulation"]).toMatchObject({ POSTGRES_HOST: "trading-postgres-rw.trading-db.svc.cluster.local", PGSSLMODE: "verify-full", PGSSLROOTCERT: CA_FILE });
    expect(env["advanced-trading-platform"].REDIS_URL).toMatch(/^rediss:\/\/trading_app:.*@trading-redis\.trading-db\.svc\.cluster\.local:6379\/0\?ssl_cert_reqs=required/);
    expect(run.outputs.postgresUris.value.trading_platform.readonlyInNetwork).toMatch(/@trading-postgres-ro\.trading-db\.svc\.cluster\.local:5432\/trading_platform\?sslmode=verify-full/);
  });
});
