// The prod stack on Kubernetes, under Pulumi mocks with its real Pulumi.prod.yaml: what objects it
// declares, each validated against the official Kubernetes OpenAPI schema (kubernetes-models,
// Kubernetes 1.34; CloudNativePG's objects against the operator's CRDs), and the rules every
// object must follow.
import { beforeAll, describe, expect, test } from "vitest";
import { crdErrors, loadCrdValidators } from "../support/crds";
import { restrictedViolations } from "../support/pod-security";
import { isSecretInput, mockPassword, plain, runProgram, type MockedResource, type ProgramRun } from "../support/pulumi";

const crds = loadCrdValidators();
/** The parameters CloudNativePG's webhook refuses in postgresql.parameters (postgresql_conf.md at v1.29.2). */
const CNPG_FIXED_PARAMETERS = [
  "allow_alter_system", "allow_system_table_mods", "archive_cleanup_command", "archive_command", "archive_mode", "bonjour", "bonjour_name", "cluster_name",
  "config_file", "data_directory", "data_sync_retry", "event_source", "external_pid_file", "hba_file", "hot_standby", "ident_file", "jit_provider",
  "listen_addresses", "log_destination", "log_directory", "log_file_mode", "log_filename", "log_rotation_age", "log_rotation_size", "log_truncate_on_rotation",
  "logging_collector", "port", "primary_conninfo", "primary_slot_name", "promote_trigger_file", "recovery_end_command", "recovery_min_apply_delay",
  "recovery_target", "recovery_target_action", "recovery_target_inclusive", "recovery_target_lsn", "recovery_target_name", "recovery_target_time",
  "recovery_target_timeline", "recovery_target_xid", "restart_after_crash", "restore_command", "shared_preload_libraries", "ssl", "ssl_ca_file",
  "ssl_cert_file", "ssl_crl_file", "ssl_dh_params_file", "ssl_ecdh_curve", "ssl_key_file", "ssl_passphrase_command", "ssl_passphrase_command_supports_reload",
  "ssl_prefer_server_ciphers", "stats_temp_directory", "synchronous_standby_names", "syslog_facility", "syslog_ident", "syslog_sequence_numbers",
  "syslog_split_messages", "unix_socket_directories", "unix_socket_group", "unix_socket_permissions",
];
const isCustomResource = (r: MockedResource) => r.type.startsWith("kubernetes:postgresql.cnpg.io/");

/** Valid against the official schema, or for an operator object against its CRD. */
async function expectValid(r: MockedResource): Promise<void> {
  if (isCustomResource(r)) return void expect(crdErrors(crds, value(r)), `${r.type} ${r.name}`).toEqual([]);
  const Model = await modelFor(r.type);
  expect(() => new Model(value(r)).validate(), `${r.type} ${r.name}`).not.toThrow();
}

/** kubernetes:apps/v1:StatefulSet -> StatefulSet of kubernetes-models/apps/v1 (the core group is plain v1). */
async function modelFor(type: string): Promise<new (data: unknown) => { validate(): void }> {
  const [, groupVersion, kind] = type.split(":");
  const module = await import(`kubernetes-models/${groupVersion.replace(/^core\//, "")}`);
  if (!module[kind]) throw new Error(`kubernetes-models has no ${kind} in ${groupVersion}`);
  return module[kind];
}

const k8sObjects = (run: ProgramRun) => run.resources.filter((r) => r.type.startsWith("kubernetes:") && r.type !== "pulumi:providers:kubernetes");
const ofKind = (run: ProgramRun, kind: string) => k8sObjects(run).filter((r) => r.type.endsWith(`:${kind}`));
const value = (r: MockedResource) => plain(r.inputs);
const named = (run: ProgramRun, kind: string, name: string) => {
  const found = ofKind(run, kind).find((r) => value(r).metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name}; have ${ofKind(run, kind).map((r) => value(r).metadata?.name).join(", ")}`);
  return value(found);
};
const podSpecs = (run: ProgramRun) => [...ofKind(run, "StatefulSet"), ...ofKind(run, "Deployment")].map((r) => ({ name: value(r).metadata.name, spec: value(r).spec }));

// The objects' clear shapes: prod with tls off. Prod as shipped (tls on) adds certificates and
// TLS settings on these same objects: test/unit/stack-tls.test.ts.
describe("prod on Kubernetes", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram("prod", { tls: "false" });
  });

  test("realises only Kubernetes objects, through the stack's provider (and the namespace's own), in the configured namespace", () => {
    const types = new Set(run.resources.map((r) => r.type));
    expect([...types].filter((t) => t.startsWith("docker:"))).toEqual([]);
    expect(run.ofType("pulumi:providers:kubernetes").map((p) => p.name).sort()).toEqual(["trading-kubernetes-adopting-provider", "trading-kubernetes-namespace-provider", "trading-kubernetes-provider"]);
    expect(plain(run.byName("trading-kubernetes-provider").inputs)).toMatchObject({ namespace: "trading-db" });
    // The consumers' namespaces too, each holding only its consumer's env Secret (kubernetes-network.test.ts).
    expect(ofKind(run, "Namespace").map((r) => value(r).metadata.name)).toEqual(["trading-db", "trading-platform", "trading-simulation"]);
    const consumerSecret = (o: MockedResource) => o.type.endsWith(":Secret") && value(o).metadata.labels["trading-db-stack/consumer"];
    for (const r of k8sObjects(run).filter((o) => !o.type.endsWith(":Namespace") && !consumerSecret(o))) expect(value(r).metadata.namespace, r.name).toBe("trading-db");
    // PostgreSQL is CloudNativePG's: a Cluster and its Databases, no StatefulSet of the stack's own.
    expect(ofKind(run, "StatefulSet").map((r) => value(r).metadata.name).sort()).toEqual(["trading-influxdb", "trading-mongodb", "trading-redis"]);
    expect(ofKind(run, "Cluster").map((r) => value(r).metadata.name)).toEqual(["trading-postgres"]);
    expect(ofKind(run, "Database").map((r) => value(r).spec.name).sort()).toEqual(["trading_platform", "trading_results"]);
    expect(ofKind(run, "Deployment")).toEqual([]);
  });

  test("dev realises only Docker resources", async () => {
    const dev = await runProgram("dev");
    expect(dev.resources.filter((r) => r.type.startsWith("kubernetes:") || r.type === "pulumi:providers:kubernetes")).toEqual([]);
    expect(dev.ofType("docker:index/container:Container").length).toBeGreaterThan(5);
  });

  test("pulumi up waits waitTimeoutSeconds for each workload, and replaces one delete-first (fixed names)", () => {
    for (const sts of ofKind(run, "StatefulSet")) {
      expect(sts.options.customTimeouts, sts.name).toMatchObject({ create: "600s", update: "600s" });
      expect(sts.options.deleteBeforeReplace, sts.name).toBe(true);
    }
  });

  test("every resource has its own Pulumi name (graph diffs and the engine key them by name)", () => {
    const names = run.resources.map((r) => r.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  test("every object is valid against the Kubernetes 1.34 OpenAPI schema, and each operator object against its CRD", async () => {
    const objects = k8sObjects(run);
    expect(objects.length).toBeGreaterThan(20);
    expect(objects.filter(isCustomResource).length).toBe(3);
    for (const r of objects) {
      const { apiVersion, kind } = value(r);
      expect(`${apiVersion}/${kind}`, r.name).toMatch(/\/[A-Z]/);
      await expectValid(r);
    }
  });

  test("the CRD check catches a misspelt field, a wrong enum value and a number given as a string (the validator is live)", () => {
    const cluster = named(run, "Cluster", "trading-postgres");
    const broken = (change: (spec: any) => void) => {
      const copy = structuredClone(cluster);
      change(copy.spec);
      return crdErrors(crds, copy).join("; ");
    };
    expect(broken((spec) => (spec.primaryUpdateMethods = "switchover"))).toMatch(/must NOT have additional properties: primaryUpdateMethods/);
    expect(broken((spec) => (spec.primaryUpdateStrategy = "automatic"))).toMatch(/\/spec\/primaryUpdateStrategy must be equal to one of the allowed values/);
    expect(broken((spec) => (spec.instances = "3"))).toMatch(/\/spec\/instances must be integer/);
    expect(broken((spec) => (spec.probes.readiness.type = "lagging"))).toMatch(/\/spec\/probes\/readiness\/type must be equal to one of the allowed values/);
  });

  test("the schema check catches a broken object (the validator is live)", async () => {
    const Model = await modelFor("kubernetes:apps/v1:StatefulSet");
    const broken = structuredClone(named(run, "StatefulSet", "trading-redis"));
    broken.spec.template.spec.containers[0].ports[0].containerPort = "6379";
    expect(() => new Model(broken).validate()).toThrow(/containerPort must be integer/);
  });

  test("every container has requests equal to limits, startup, readiness and liveness probes, and runs unprivileged", () => {
    for (const { name, spec } of podSpecs(run)) {
      const pod = spec.template.spec;
      expect(pod.securityContext, name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      expect(pod.securityContext.fsGroup, name).toBe(pod.securityContext.runAsGroup);
      expect(pod.automountServiceAccountToken, name).toBe(false);
      for (const c of pod.containers) {
        expect(c.resources.requests, name).toEqual(c.resources.limits);
        expect(c.resources.limits.memory, name).toMatch(/^\d+Mi$/);
        expect(c.resources.limits.cpu, name).toMatch(/^\d+(\.\d+)?$/);
        for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) expect(c[probe]?.exec?.command?.[0], `${name} ${probe}`).toBe("sh");
        // Alive while the server itself answers (a wedged one still completes TCP handshakes): two minutes of silence restart it.
        expect(c.livenessProbe.tcpSocket, name).toBeUndefined();
        expect(c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold, name).toBe(120);
        expect(c.securityContext, name).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        expect(c.securityContext.capabilities.add, name).toBeUndefined();
        expect(c.securityContext.runAsUser, name).toBeGreaterThan(0);
      }
      expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey, name).toBe("kubernetes.io/hostname");
      expect(pod.topologySpreadConstraints[0].topologyKey, name).toBe("kubernetes.io/hostname");
    }
    // Startup lasts as long as a start may (10 minutes by default; PostgreSQL's is the operator's startDelay).
    const startup = (sts: string) => { const p = named(run, "StatefulSet", sts).spec.template.spec.containers[0].startupProbe; return p.periodSeconds * p.failureThreshold; };
    expect([startup("trading-redis"), startup("trading-mongodb"), startup("trading-influxdb")]).toEqual([600, 600, 600]);
    // A Mongo member serves only as primary or secondary (or before the set is formed), not while it syncs.
    const mongo = named(run, "StatefulSet", "trading-mongodb").spec.template.spec.containers[0];
    expect(mongo.readinessProbe.exec.command[2]).toContain("(h.ismaster && h.setName) || h.secondary");
    expect(mongo.startupProbe.exec.command[2]).toContain("HOME=/tmp mongosh");
    // Liveness asks each server itself: mongosh ping, PING as the health user (LOADING counts), influx ping (PostgreSQL: the operator's instance manager).
    const liveness = (sts: string) => named(run, "StatefulSet", sts).spec.template.spec.containers[0].livenessProbe.exec.command[2];
    expect(liveness("trading-mongodb")).toContain("db.adminCommand({ ping: 1 })");
    expect(liveness("trading-redis")).toMatch(/redis-cli .*--user healthcheck .* ping \| grep -qE '\^\(PONG\|LOADING\)'$/);
    expect(liveness("trading-influxdb")).toMatch(/^influx ping /);
    const uid = (sts: string) => named(run, "StatefulSet", sts).spec.template.spec.securityContext.runAsUser;
    expect([uid("trading-mongodb"), uid("trading-redis")]).toEqual([999, 999]);
    expect(uid("trading-influxdb")).toBe(1000);
  });

  test("the namespace enforces Pod Security's restricted standard, and every pod template meets it, with a read-only root and emptyDirs where each image writes", () => {
    expect(value(ofKind(run, "Namespace")[0]).metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/enforce-version": "latest",
      "pod-security.kubernetes.io/audit": "restricted",
      "pod-security.kubernetes.io/warn": "restricted",
    });
    for (const { name, spec } of podSpecs(run)) {
      expect(restrictedViolations(spec.template.spec), name).toEqual([]);
      expect(spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem, name).toBe(true);
    }
    const writable = (sts: string) => {
      const pod = named(run, "StatefulSet", sts).spec.template.spec;
      const emptyDirs = new Set(pod.volumes.filter((v: any) => v.emptyDir).map((v: any) => v.name));
      return pod.containers[0].volumeMounts.filter((m: any) => emptyDirs.has(m.name) || !pod.volumes.some((v: any) => v.name === m.name)).map((m: any) => m.mountPath).sort();
    };
    // Claims (no pod volume of that name) and emptyDirs: everything else is read-only.
    expect(writable("trading-mongodb")).toEqual(["/data/configdb", "/data/db", "/etc/mongo-keyfile", "/tmp"]);
    expect(writable("trading-redis")).toEqual(["/data"]);
    expect(writable("trading-influxdb")).toEqual(["/etc/influxdb2", "/var/lib/influxdb2"]);
  });

  test("the checker of the restricted standard is live: each rule it knows fails on a pod that breaks it", () => {
    const good = named(run, "StatefulSet", "trading-redis").spec.template.spec;
    expect(restrictedViolations(good)).toEqual([]);
    const broken = (change: (pod: any) => void) => {
      const pod = structuredClone(good);
      change(pod);
      return restrictedViolations(pod);
    };
    expect(broken((p) => (p.containers[0].securityContext.allowPrivilegeEscalation = true))).toEqual(["container redis: securityContext.allowPrivilegeEscalation must be false"]);
    expect(broken((p) => p.containers[0].securityContext.capabilities.add = ["SYS_ADMIN"])).toEqual(["container redis: adds capability SYS_ADMIN"]);
    expect(broken((p) => { delete p.securityContext.runAsNonRoot; delete p.containers[0].securityContext.runAsNonRoot; })).toEqual(["container redis: runAsNonRoot must be true (on the container or the pod)"]);
    expect(broken((p) => delete p.securityContext.seccompProfile)).toEqual(["container redis: seccompProfile.type must be RuntimeDefault or Localhost (on the container or the pod)"]);
    expect(broken((p) => p.volumes.push({ name: "host", hostPath: { path: "/" } }))).toEqual(["volume host is of type hostPath, which restricted does not allow"]);
    expect(broken((p) => (p.hostNetwork = true))).toEqual(["spec.hostNetwork is true"]);
  });

  test("no credential outside a Secret: not in env, ConfigMaps, annotations or any other object; every Secret is sent as a Pulumi secret", () => {
    const credentials = run.ofType("random:index/randomPassword:RandomPassword").map((p) => mockPassword(p.name, plain(p.inputs).length ?? 32));
    expect(credentials.length).toBeGreaterThan(10);
    for (const r of k8sObjects(run).filter((o) => !o.type.endsWith(":Secret"))) {
      const text = JSON.stringify(value(r));
      for (const credential of credentials) expect(text.includes(credential), `${r.name} holds a credential`).toBe(false);
    }
    for (const secret of ofKind(run, "Secret")) expect(isSecretInput(secret.inputs.stringData), secret.name).toBe(true);
    for (const { name, spec } of podSpecs(run)) {
      for (const c of spec.template.spec.containers) {
        for (const env of c.env ?? []) expect(env.name, `${name}: credentials come as *_FILE paths`).not.toMatch(/PASSWORD$|TOKEN$|SECRET$/);
        expect(c.envFrom, name).toBeUndefined();
      }
    }
  });

  test("credentials are mounted as files from the server's Secret, scripts and config from its ConfigMap; the pod template carries their hashes", () => {
    const influx = named(run, "StatefulSet", "trading-influxdb").spec.template;
    const mounts = influx.spec.containers[0].volumeMounts;
    expect(mounts).toEqual(
      expect.arrayContaining([
        { name: "secrets", mountPath: "/run/secrets/influxdb-admin-password", subPath: "run-secrets-influxdb-admin-password", readOnly: true },
        { name: "data", mountPath: "/var/lib/influxdb2" },
      ]),
    );
    const volumes = Object.fromEntries(influx.spec.volumes.map((v: any) => [v.name, v]));
    expect(volumes.secrets.secret.secretName).toBe("trading-influxdb-secrets");
    expect(volumes.files.configMap.items.find((i: any) => i.key === "usr-local-bin-trading-influxdb-entrypoint.sh").mode).toBe(0o555);
    expect(Object.keys(named(run, "Secret", "trading-influxdb-secrets").stringData).sort()).toEqual(["run-secrets-influxdb-admin-password"]);
    expect(influx.metadata.annotations["trading-db-stack/files-hash"]).toMatch(/^[0-9a-f]{64}$/);
    expect(influx.metadata.annotations["trading-db-stack/secrets-hash"]).toMatch(/^[0-9a-f]{64}$/);
    // MongoDB's keyfile: group-readable from the Secret, so the wrapper copies it into a scratch folder as 0400.
    const mongo = named(run, "StatefulSet", "trading-mongodb").spec.template.spec;
    expect(mongo.containers[0].volumeMounts).toEqual(expect.arrayContaining([{ name: "scratch-0", mountPath: "/etc/mongo-keyfile" }]));
    // No pod carries root's password: the hook creates root through __system, so its rotation restarts none.
    expect(mongo.containers[0].env.map((e: any) => e.name).sort()).toEqual(["MONGO_KEYFILE", "MONGO_KEYFILE_SOURCE"]);
    expect(Object.keys(named(run, "Secret", "trading-mongodb-secrets").stringData)).toEqual(["run-secrets-mongo-keyfile"]);
  });

  test("StatefulSets keep their volume claims on destroy and scale-down (retainData), sized and classed from config", () => {
    for (const sts of ofKind(run, "StatefulSet").map(value)) {
      expect(sts.spec.persistentVolumeClaimRetentionPolicy, sts.metadata.name).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    }
    const influx = named(run, "StatefulSet", "trading-influxdb").spec;
    expect(influx.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("100Gi");
    expect(influx.volumeClaimTemplates[0].spec.storageClassName).toBeUndefined();
    const mongo = named(run, "StatefulSet", "trading-mongodb").spec;
    expect(mongo).toMatchObject({ replicas: 3, podManagementPolicy: "Parallel", serviceName: "trading-mongodb-headless" });
    expect(mongo.volumeClaimTemplates.map((t: any) => [t.metadata.name, t.spec.resources.requests.storage])).toEqual([["data", "50Gi"], ["config", "1Gi"]]);
  });

  test("Services: headless per StatefulSet, a client one per server; ClusterIP only; PostgreSQL's are the operator's (-rw, -ro)", () => {
    for (const s of ofKind(run, "Service").map(value)) expect(["ClusterIP", undefined], s.metadata.name).toContain(s.spec.type);
    for (const sts of ofKind(run, "StatefulSet").map(value)) {
      const headless = named(run, "Service", sts.spec.serviceName).spec;
      expect(headless.clusterIP, sts.metadata.name).toBe("None");
      expect(headless.selector).toEqual(sts.spec.selector.matchLabels);
    }
    expect(ofKind(run, "Service").map((s) => value(s).metadata.name).filter((n) => n.includes("postgres"))).toEqual([]);
  });

  test("the PostgreSQL Cluster: 1 + postgresReplicas instances, the pinned operand image, storage, resources and the Docker settings", () => {
    const spec = named(run, "Cluster", "trading-postgres").spec;
    expect(spec).toMatchObject({
      instances: 3,
      imageName: "ghcr.io/cloudnative-pg/postgresql:18.7-minimal-trixie",
      storage: { size: "100Gi" },
      resources: { requests: { memory: "4096Mi", cpu: "2" }, limits: { memory: "4096Mi", cpu: "2" } },
      affinity: { enablePodAntiAffinity: true, podAntiAffinityType: "preferred", topologyKey: "kubernetes.io/hostname" },
      topologySpreadConstraints: [{ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { "cnpg.io/cluster": "trading-postgres" } } }],
    });
    expect(spec.storage.storageClass).toBeUndefined();
    // The same server settings as Docker's, as strings, less those the operator owns.
    expect(spec.postgresql.parameters).toMatchObject({ max_connections: "300", shared_buffers: "1024MB", max_slot_wal_keep_size: "16384MB", password_encryption: "scram-sha-256", hot_standby_feedback: "on" });
    // None the operator's webhook refuses (CloudNativePG 1.29 docs, postgresql_conf.md "Fixed parameters"; it validates no CEL here).
    for (const fixed of CNPG_FIXED_PARAMETERS) expect(spec.postgresql.parameters[fixed], fixed).toBeUndefined();
    expect(spec.postgresql.parameters.listen_addresses).toBeUndefined();
    expect(Object.values(spec.postgresql.parameters).every((v) => typeof v === "string")).toBe(true);
    expect(spec.postgresql.pg_hba).toEqual([
      "host replication all all reject",
      "host all postgres all reject",
      // The owners only through a port-forward (the pod's loopback): a pod holding an owner's password still cannot log in as it.
      "host all trading_platform_owner,trading_results_owner 127.0.0.1/32 scram-sha-256",
      "host all trading_platform_owner,trading_results_owner ::1/128 scram-sha-256",
      "host all trading_platform_owner,trading_results_owner all reject",
    ]);
  });

  test("the Cluster fails over, updates and reads the way the README says", () => {
    const spec = named(run, "Cluster", "trading-postgres").spec;
    expect(spec).toMatchObject({
      replicationSlots: { highAvailability: { enabled: true } },
      // Two minutes before a lagging replica leaves -ro: longer than a lost node's primary stays ready, so a replica is there to promote.
      probes: { readiness: { type: "streaming", maximumLag: "64Mi", periodSeconds: 10, failureThreshold: 12 } },
      failoverDelay: 0,
      primaryUpdateStrategy: "unsupervised",
      primaryUpdateMethod: "switchover",
      startDelay: 3600,
      enablePDB: true,
      enableSuperuserAccess: false,
    });
    expect(spec.superuserSecret).toBeUndefined();
  });

  test("without replicas: the primary restarts in place (nobody to switch over to) and has no budget (it would block every drain)", async () => {
    const single = await runProgram("prod", { postgresReplicas: "0" });
    expect(named(single, "Cluster", "trading-postgres").spec).toMatchObject({ instances: 1, primaryUpdateMethod: "restart", enablePDB: false });
  });

  test("roles: each owner and service role, the read-only and the monitoring role managed by the operator, each with a basic-auth Secret named by its username", () => {
    const spec = named(run, "Cluster", "trading-postgres").spec;
    expect(spec.managed.roles.map((r: any) => r.name)).toEqual(["trading_platform_owner", "trading_results_owner", "trading_platform_app", "trading_results_app", "trading_readonly", "trading_monitor"]);
    for (const role of spec.managed.roles) {
      expect(role).toMatchObject({ ensure: "present", login: true });
      const secret = ofKind(run, "Secret").find((s) => value(s).metadata.name === role.passwordSecret.name)!;
      expect(value(secret).type, role.name).toBe("kubernetes.io/basic-auth");
      expect(value(secret).stringData.username, role.name).toBe(role.name);
      expect(value(secret).stringData.password, role.name).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(value(secret).metadata.labels["cnpg.io/reload"]).toBe("true");
      expect(isSecretInput(secret.inputs.stringData)).toBe(true);
    }
    expect(spec.managed.roles.find((r: any) => r.name === "trading_monitor").inRoles).toEqual(["pg_monitor"]);
    // initdb makes the first database with its owner; the operator's Database objects both, kept when the object goes.
    expect(spec.bootstrap.initdb).toMatchObject({ database: "trading_platform", owner: "trading_platform_owner", secret: { name: "trading-postgres-trading-platform-owner" } });
    for (const db of ofKind(run, "Database").map(value)) expect(db.spec).toMatchObject({ cluster: { name: "trading-postgres" }, ensure: "present", databaseReclaimPolicy: "retain" });
  });

  test("NetworkPolicies: a default deny both ways over the stack's pods, one policy per server (who reaches what: kubernetes-network.test.ts)", () => {
    const policies = ofKind(run, "NetworkPolicy").map(value);
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(["trading-default-deny", "trading-influxdb-clients", "trading-mongodb-clients", "trading-postgres-instances", "trading-redis-clients"]);
    const deny = policies.find((p) => p.metadata.name === "trading-default-deny");
    expect(deny.spec).toEqual({ podSelector: { matchLabels: { "app.kubernetes.io/part-of": "trading-db-stack", "app.kubernetes.io/instance": "trading" } }, policyTypes: ["Ingress", "Egress"] });
    // The instances' policy is kept with the Cluster by a destroy with retainData.
    expect(ofKind(run, "NetworkPolicy").find((r) => value(r).metadata.name === "trading-postgres-instances")!.options.retainOnDelete).toBe(true);
  });

  test("a PodDisruptionBudget per replicated database: a Mongo majority (PostgreSQL's are the operator's); a crashing pod never blocks a drain", () => {
    const budgets = Object.fromEntries(ofKind(run, "PodDisruptionBudget").map(value).map((b) => [b.metadata.name, b.spec]));
    expect(budgets["trading-mongodb-majority"]).toMatchObject({ minAvailable: 2, unhealthyPodEvictionPolicy: "AlwaysAllow" });
    expect(Object.keys(budgets)).toEqual(["trading-mongodb-majority"]);
  });

  test("the provider updates ConfigMaps and Secrets in place; a retained namespace is taken over again by the next stack", () => {
    const providers = run.ofType("pulumi:providers:kubernetes").map((p) => [p.name, plain(p.inputs)] as const);
    const main = providers.find(([name]) => name === "trading-kubernetes-provider")![1];
    expect(main).toMatchObject({ namespace: "trading-db", enableConfigMapMutable: "true", enableSecretMutable: "true" });
    const namespaceProvider = providers.find(([name]) => name === "trading-kubernetes-namespace-provider")![1];
    expect(namespaceProvider).toMatchObject({ upsertExistingObjects: "true" });
    const namespace = ofKind(run, "Namespace")[0];
    expect(namespace.options).toMatchObject({ retainOnDelete: true });
    // The workloads do not adopt anything: a name taken by someone else's object fails the up.
    expect(main.upsertExistingObjects).toBeUndefined();
    // The PostgreSQL Cluster alone does, kept by a destroy with retainData (the operator would take its claims with it).
    const cluster = ofKind(run, "Cluster")[0];
    expect(cluster.options).toMatchObject({ retainOnDelete: true });
    expect(cluster.options.provider).toContain("trading-kubernetes-adopting-provider");
    // Its policy too: the instances a destroy leaves running stay closed.
    const policy = run.byName("trading-postgres-instances").options;
    expect(policy).toMatchObject({ retainOnDelete: true });
    expect(policy.provider).toContain("trading-kubernetes-adopting-provider");
    expect(providers.find(([name]) => name === "trading-kubernetes-adopting-provider")![1]).toMatchObject({ upsertExistingObjects: "true", namespace: "trading-db" });
  });

  test("MongoDB has no client Service to round-robin over primary and secondaries: only the members' headless one, which every URI's pod names resolve through", () => {
    const services = ofKind(run, "Service").map((r) => value(r).metadata.name);
    expect(services.filter((n: string) => n.startsWith("trading-mongodb"))).toEqual(["trading-mongodb-headless"]);
    expect(named(run, "Service", "trading-mongodb-headless").spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    const uris = plain(run.outputs.mongoUris.value);
    for (const uri of [uris.app, uris.readonly]) {
      expect(uri).toContain([0, 1, 2].map((i) => `trading-mongodb-${i}.trading-mongodb-headless.trading-db.svc.cluster.local:27017`).join(","));
      expect(uri).toContain("replicaSet=rs0");
    }
  });

  test("client Services do not hold up the up waiting for endpoints (the read-only one has none until the replicas' base backups are done)", () => {
    for (const name of ["trading-redis", "trading-influxdb"]) expect(named(run, "Service", name).metadata.annotations).toEqual({ "pulumi.com/skipAwait": "true" });
    expect(named(run, "Service", "trading-redis-headless").metadata.annotations).toBeUndefined();
    // The Cluster and its Databases are waited for by what the operator reports.
    // Ready by the operator's word and with every instance ready (the condition alone carries no generation); the spec owned even if a kept Cluster was another stack's.
    expect(named(run, "Cluster", "trading-postgres").metadata.annotations).toEqual({
      "pulumi.com/waitFor": JSON.stringify(["condition=Ready", "jsonpath={.status.readyInstances}=3"]),
      "pulumi.com/patchForce": "true",
    });
    for (const db of ofKind(run, "Database").map(value)) expect(db.metadata.annotations).toEqual({ "pulumi.com/waitFor": "jsonpath={.status.applied}=true" });
  });

  test("outputs: in-cluster DNS names, the read-only endpoint, and a Secret per consumer with its env map", () => {
    const env = run.outputs.serviceEnv;
    expect(env.secret).toBe(true);
    expect(env.value.inNetwork["trading-simulation"].POSTGRES_HOST).toBe("trading-postgres-rw.trading-db.svc.cluster.local");
    expect(env.value.inNetwork["advanced-trading-platform"].DATABASE_URL).toContain("@trading-postgres-rw.trading-db.svc.cluster.local:5432/trading_platform");
    expect(env.value.inNetwork["advanced-trading-platform"].DATABASE_URL).toMatch(/^postgresql\+asyncpg:\/\/trading_platform_app:/);
    expect(env.value.inNetwork["trading-simulation"].POSTGRES_USER).toBe("trading_results_app");
    for (const [db, uris] of Object.entries<any>(run.outputs.postgresUris.value)) {
      expect(uris.serviceInNetwork, db).toContain("@trading-postgres-rw.trading-db.svc.cluster.local:5432/");
      expect(uris.serviceInNetwork, db).toMatch(new RegExp(`^postgresql://${db}_app:`));
      expect(uris.ownerInNetwork, db).toBeUndefined();
      expect(uris.readonlyInNetwork, db).toContain("@trading-postgres-ro.trading-db.svc.cluster.local:5432/");
    }
    expect(env.value.inNetwork["advanced-trading-platform"].REDIS_URL).toMatch(/@trading-redis\.trading-db\.svc\.cluster\.local:6379\/0$/);
    expect(env.value.inNetwork["trading-simulation"].MONGODB_URL).toContain("trading-mongodb-0.trading-mongodb-headless.trading-db.svc.cluster.local:27017,");
    expect(run.outputs.postgresUris.value.trading_platform.readonlyInNetwork).toContain("@trading-postgres-ro.trading-db.svc.cluster.local:5432/");
    expect(run.outputs.kubernetes.value).toEqual({
      namespace: "trading-db",
      context: null,
      consumerSecrets: {
        "advanced-trading-platform": { namespace: "trading-platform", name: "trading-advanced-trading-platform-env" },
        "trading-simulation": { namespace: "trading-simulation", name: "trading-trading-simulation-env" },
      },
    });
    const secret = ofKind(run, "Secret").find((s) => value(s).metadata.name === "trading-trading-simulation-env")!;
    expect(isSecretInput(secret.inputs.stringData)).toBe(true);
    expect(value(secret).stringData).toEqual(env.value.inNetwork["trading-simulation"]);
  });

  test("hooks reach each server through a port-forward to its pod; PostgreSQL's to whichever is primary, as each owner", () => {
    const init = plain(run.byName("trading-postgres-init").inputs);
    expect(init).toMatchObject({
      host: "trading-postgres-rw.trading-db.svc.cluster.local",
      port: 5432,
      managedBy: "cloudnative-pg",
      kubernetes: { namespace: "trading-db", selector: { labels: "cnpg.io/cluster=trading-postgres,cnpg.io/instanceRole=primary" } },
    });
    expect(init.kubernetes.pod).toBeUndefined();
    for (const key of ["superuser", "superuserPassword", "replicationPassword"]) expect(init[key], key).toBeUndefined();
    expect(run.resources.filter((r) => /postgres-replica-\d+-(slot|check)$/.test(r.name))).toEqual([]);
    expect(run.outputs.adminConnections.value.access.postgres.replicas.map((a: any) => a.kubernetes.selector)).toEqual([
      { labels: "cnpg.io/cluster=trading-postgres,cnpg.io/instanceRole=replica" },
      { labels: "cnpg.io/cluster=trading-postgres,cnpg.io/instanceRole=replica", index: 1 },
    ]);
    expect(run.outputs.adminConnections.value.postgres.primary).toMatch(/^postgresql:\/\/trading_monitor:[A-Za-z0-9]+@127\.0\.0\.1:5432\/postgres$/);
    const mongo = plain(run.byName("trading-mongo-init").inputs);
    expect(mongo.clientEndpoints.map((e: any) => e.kubernetes.pod)).toEqual(["trading-mongodb-0", "trading-mongodb-1", "trading-mongodb-2"]);
    expect(mongo.members.map((m: any) => m.host)).toEqual([0, 1, 2].map((i) => `trading-mongodb-${i}.trading-mongodb-headless.trading-db.svc.cluster.local:27017`));
  });
});

describe("prod with a kubeconfig and another cluster domain", () => {
  test("the kubeconfig's contents are a secret in the provider's inputs and the hooks'; names use the domain", async () => {
    const kubeconfig = "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: very-secret-token}}]";
    const run = await runProgram("prod", { kubernetesKubeconfig: kubeconfig, kubernetesContext: "prod-eu", kubernetesClusterDomain: "corp.internal" });
    for (const provider of run.ofType("pulumi:providers:kubernetes")) {
      expect(isSecretInput(provider.inputs.kubeconfig), provider.name).toBe(true);
      expect(plain(provider.inputs)).toMatchObject({ kubeconfig, context: "prod-eu" });
    }
    expect(isSecretInput(run.byName("trading-postgres-init").inputs.kubernetes)).toBe(true);
    expect(plain(run.byName("trading-postgres-init").inputs.kubernetes)).toMatchObject({ context: "prod-eu", kubeconfig });
    for (const r of k8sObjects(run)) expect(JSON.stringify(plain(r.inputs)), r.name).not.toContain("very-secret-token");
    expect(run.outputs.serviceEnv.value.inNetwork["trading-simulation"].POSTGRES_HOST).toBe("trading-postgres-rw.trading-db.svc.corp.internal");
    expect(plain(run.byName("trading-mongo-init").inputs).members[0].host).toBe("trading-mongodb-0.trading-mongodb-headless.trading-db.svc.corp.internal:27017");
  });

  test("no output carries the kubeconfig's contents: adminConnections names the pods, namespace and context, and the tools read $KUBECONFIG", async () => {
    const kubeconfig = "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: very-secret-token}}]";
    const run = await runProgram("prod", { kubernetesKubeconfig: kubeconfig, kubernetesContext: "prod-eu" });
    for (const [key, output] of Object.entries(run.outputs)) expect(JSON.stringify(plain(output.value)), key).not.toContain("very-secret-token");
    const access = plain(run.outputs.adminConnections.value).access;
    expect(access.redis.kubernetes).toEqual({ namespace: "trading-db", pod: "trading-redis-0", context: "prod-eu" });
    expect(access.postgres.primary.kubernetes).toMatchObject({ namespace: "trading-db", context: "prod-eu", selector: expect.anything() });
    expect(access.postgres.primary.kubernetes.kubeconfig).toBeUndefined();
    // A path is no credential: it stays, so the tools open the same file.
    const byPath = await runProgram("prod", { kubernetesKubeconfig: "/home/ops/.kube/prod-eu.yaml" });
    expect(plain(byPath.outputs.adminConnections.value).access.mongo.members[2].kubernetes).toEqual({ namespace: "trading-db", pod: "trading-mongodb-2", kubeconfig: "/home/ops/.kube/prod-eu.yaml" });
  });
});

describe("dev with platform kubernetes", () => {
  test("works too: admin tools as Deployments, volume claims deleted with the stack (retainData false)", async () => {
    const run = await runProgram("dev", { platform: "kubernetes", kubernetesStorageClass: "fast-ssd" });
    expect(run.resources.filter((r) => r.type.startsWith("docker:"))).toEqual([]);
    expect(ofKind(run, "Deployment").map((r) => value(r).metadata.name).sort()).toEqual(["trading-mongo-express", "trading-pgadmin"]);
    for (const sts of ofKind(run, "StatefulSet").map(value)) {
      expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Delete" });
      for (const t of sts.spec.volumeClaimTemplates) expect(t.spec.storageClassName).toBe("fast-ssd");
    }
    // pgAdmin's python carries NET_BIND_SERVICE as a file capability (setcap): it runs only when
    // the bounding set keeps it, and gains nothing (it listens on 8080).
    const pgadmin = named(run, "Deployment", "trading-pgadmin").spec.template.spec;
    expect(pgadmin.containers[0].securityContext).toMatchObject({ runAsUser: 5050, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } });
    expect(pgadmin.containers[0].env).toContainEqual({ name: "PGADMIN_LISTEN_PORT", value: "8080" });
    expect(named(run, "Deployment", "trading-mongo-express").spec.template.spec.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    // Both meet the restricted standard; pgAdmin's root stays writable (its entrypoint writes into /pgadmin4).
    for (const { name, spec } of podSpecs(run)) expect(restrictedViolations(spec.template.spec), name).toEqual([]);
    expect(pgadmin.containers[0].securityContext.readOnlyRootFilesystem).toBe(false);
    expect(named(run, "Namespace", "trading-db").metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    // retainData false: the namespace goes with the stack, through the stack's own provider; the Cluster too.
    expect(run.ofType("pulumi:providers:kubernetes").map((p) => p.name).sort()).toEqual(["trading-kubernetes-adopting-provider", "trading-kubernetes-provider"]);
    const cluster = ofKind(run, "Cluster")[0];
    expect(cluster.options.retainOnDelete).toBe(false);
    expect(value(cluster).spec).toMatchObject({ instances: 2, storage: { size: "20Gi", storageClass: "fast-ssd" } });
    for (const r of k8sObjects(run)) await expectValid(r);
  });
});
