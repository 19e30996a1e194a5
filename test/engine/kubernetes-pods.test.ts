// The prod stack's Kubernetes pods on a real container engine: each StatefulSet's pod template, as
// the program declares it for Pulumi.prod.yaml, started on the test's Docker daemon the way a
// kubelet starts it (test/support/engine/pods.ts: its user, fsGroup, dropped capabilities,
// no_new_privs, mounts and probes), with the stand-in images. Then the hooks run as `pulumi up`
// runs them on Kubernetes: from their serialised providers, through the real client-node
// port-forward (to the local port-forward server, which forwards to the pods' ports). No cluster
// exists here: this proves the pod templates, the images' entrypoints as non-root users, the
// replica set over the pods' DNS names, replication through the slot, and the hooks through
// tunnels, together.
//
// PostgreSQL on Kubernetes is CloudNativePG's Cluster, whose pods the operator makes (they cannot
// run here): its instances are played by this machine's PostgreSQL, a primary and a streaming
// replica, registered with the API server as the operator labels them, with the roles and
// databases the operator would make. The hooks and `npm run verify` find them by those labels.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Docker from "dockerode";
import { MongoClient } from "mongodb";
import { removeServerDir, startPrimary, startReplica, type PgServer } from "../support/postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { dockerReady } from "../support/engine/dev-stack";
import { ensureStandIn, STAND_IN_SERVERS, STAND_INS } from "../support/engine/images";
import { holdDockerDaemon } from "../support/engine/lock";
import { PodRunner } from "../support/engine/pods";
import { kubeconfigYaml, startPortForwardServer, type PortForwardServer } from "../support/kube-port-forward-server";
import { runTool } from "../support/tools";
import { mockRealise, plain, pulumi, runProgram, serializedHook, type ProgramRun, type Realise } from "../support/pulumi";
import { realiseTlsResource } from "../support/tls";
import { waitUntil } from "../support/wait";

const PREFIX = "k8stest";
const NETWORK = `${PREFIX}-pods`;
const NAMESPACE = "trading-db";
const docker = new Docker();
let release: (() => void) | undefined;
let run: ProgramRun;
let pods: PodRunner;
let api: PortForwardServer;
let dir: string;
let images: Record<string, string>;
const token = "pods-token";
/** namespace/pod -> container port -> the pod's port published on 127.0.0.1 */
const forwarded: Record<string, Record<number, number>> = {};
/** namespace/pod -> its labels (the CloudNativePG instances'). */
const labels: Record<string, Record<string, string>> = {};
/** The Cluster's instances, as the operator would run them: a primary and a replica. */
let instances: PgServer[] = [];

const hook = (name: string) => serializedHook(run.byName(name));

/**
 * Mocks, but the stack's CA and certificates made for real (openssl), so the pods serve real TLS.
 * Kept by name in `realTls`, as a stack's state keeps them: another program of the same stack (dev's
 * admin tools, test 4) gets the same CA and certificates; a new stack (test 5) starts it empty.
 */
const realTls = new Map<string, Awaited<ReturnType<Realise>>>();
const withRealTls: Realise = async (r) => {
  if (!r.type.startsWith("tls:")) return mockRealise(r);
  if (!realTls.has(r.name)) {
    const outputs = realiseTlsResource(r.type, plain(r.inputs));
    realTls.set(r.name, { id: r.name, state: { ...plain(r.inputs), ...outputs, ...(outputs.privateKeyPem ? { privateKeyPem: pulumi.secret(outputs.privateKeyPem as string) } : {}) } });
  }
  return realTls.get(r.name)!;
};

/** The Secret the program declares by its object name: its string data. */
const secretData = (name: string) => plain(run.resources.find((r) => r.type === "kubernetes:core/v1:Secret" && plain(r.inputs).metadata.name === name)!.inputs).stringData;

/** A client of the members, which serve TLS only: verified against the stack's CA. */
async function withMongo<T>(uri: string, work: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000, tls: true, ca: plain(run.outputs.tls.value).caCertificate });
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

const rootUri = (password: string, port: number) => `mongodb://root:${encodeURIComponent(password)}@127.0.0.1:${port}/admin?directConnection=true&authSource=admin`;

/** Runs `work` on whichever member is primary now, as root (pod 0 is preferred, but an election may be
 * under way; a member still in its initial sync has no users yet, so it is not the one either). */
function onMongoPrimary(rootPassword: string, work: (client: MongoClient) => Promise<unknown>, timeoutMs: number, what: string): Promise<void> {
  return waitUntil(
    async () => {
      for (const i of [0, 1, 2]) {
        const port = pods.pods.get(`trading-mongodb-${i}`)!.hostPort;
        const done = await withMongo(rootUri(rootPassword, port), async (c) => {
          if (!(await c.db("admin").command({ isMaster: 1 })).ismaster) return false;
          await work(c);
          return true;
        }).catch(() => false);
        if (done) return true;
      }
      return false;
    },
    timeoutMs,
    () => what,
    500,
  );
}

async function startPod(sts: string, i: number) {
  const pod = await pods.start(sts, i);
  forwarded[`${NAMESPACE}/${pod.name}`] = { [pod.containerPort]: pod.hostPort };
  return pod;
}

/** Every database pod of the stack's own (PostgreSQL's are the operator's), started together. */
function startDatabasePods() {
  return Promise.all([
    startPod("trading-redis", 0),
    startPod("trading-influxdb", 0),
    startPod("trading-mongodb", 0),
    startPod("trading-mongodb", 1),
    startPod("trading-mongodb", 2),
  ]);
}

async function removeLeftovers(): Promise<void> {
  for (const c of await docker.listContainers({ all: true })) if (c.Names.some((n) => n.startsWith(`/${PREFIX}-`))) await docker.getContainer(c.Id).remove({ force: true });
  for (const n of await docker.listNetworks()) if (n.Name === NETWORK) await docker.getNetwork(n.Id).remove();
}

beforeAll(async () => {
  release = await holdDockerDaemon();
  await dockerReady(docker);
  images = {
    redisImage: await ensureStandIn(docker, STAND_INS.redis),
    mongoImage: await ensureStandIn(docker, STAND_INS.mongo),
    influxdbImage: await ensureStandIn(docker, STAND_INS.influxdb),
  };
  await removeLeftovers();
  await docker.createNetwork({ Name: NETWORK, Driver: "bridge" });
  // prod with tls (the CA and certificates real), one replica to keep the run short, and the stand-in images.
  run = await runProgram("prod", { ...images, postgresReplicas: "1", tls: "true" }, withRealTls);
  pods = new PodRunner(docker, run, NETWORK, PREFIX);
  api = await startPortForwardServer({ token, pods: forwarded, labels });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-k8s-pods-"));
  // The hooks find the cluster as `pulumi up` would: the default kubeconfig ($KUBECONFIG).
  process.env.KUBECONFIG = path.join(dir, "kubeconfig");
  fs.writeFileSync(process.env.KUBECONFIG, kubeconfigYaml([{ name: "prod", server: api.url, token, namespace: NAMESPACE }]), { mode: 0o600 });
}, 1_200_000);

/**
 * What CloudNativePG does for the Cluster the program declares: instance 1 the primary, with the
 * managed roles (from their Secrets) and the Databases; instance 2 a replica streaming through its
 * slot. Registered as pods trading-postgres-1 and -2 with the operator's labels.
 */
async function startOperatorInstances(): Promise<void> {
  const cluster = plain(run.byName("trading-postgres-cluster").inputs);
  // The certificate the Cluster names (spec.certificates), as the operator serves it on every instance.
  const tlsPem = { cert: secretData(cluster.spec.certificates.serverTLSSecret)["tls.crt"], key: secretData(cluster.spec.certificates.serverTLSSecret)["tls.key"], ca: secretData(cluster.spec.certificates.serverCASecret)["ca.crt"] };
  const primary = await startPrimary("the-operator-s-superuser-password", "cnpg-1", { tlsPem });
  instances.push(primary);
  const client = await primary.connect();
  try {
    for (const role of cluster.spec.managed.roles) {
      const secret = plain(run.resources.find((r) => r.type === "kubernetes:core/v1:Secret" && plain(r.inputs).metadata.name === role.passwordSecret.name)!.inputs);
      await client.query(`CREATE ROLE "${role.name}" LOGIN PASSWORD '${secret.stringData.password}' ${role.inRoles.map((r: string) => `IN ROLE ${r}`).join(" ")}`);
    }
    for (const db of run.resources.filter((r) => r.type === "kubernetes:postgresql.cnpg.io/v1:Database").map((r) => plain(r.inputs).spec)) {
      await client.query(`CREATE DATABASE "${db.name}" OWNER "${db.owner}" ENCODING 'UTF8' TEMPLATE template0`);
    }
    await client.query("CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'the-operator-s-replication-password'");
    await client.query("SELECT pg_create_physical_replication_slot('_cnpg_trading_postgres_2')");
  } finally {
    await client.end();
  }
  instances.push(await startReplica({ primary, slot: "_cnpg_trading_postgres_2", replicationUser: "replicator", replicationPassword: "the-operator-s-replication-password", tlsPem }));
  for (const [n, server] of instances.entries()) {
    forwarded[`${NAMESPACE}/trading-postgres-${n + 1}`] = { 5432: server.port };
    labels[`${NAMESPACE}/trading-postgres-${n + 1}`] = { "cnpg.io/cluster": "trading-postgres", "cnpg.io/instanceRole": n === 0 ? "primary" : "replica" };
  }
}

afterAll(async () => {
  for (const server of instances.reverse()) {
    await server.stop();
    removeServerDir(server);
  }
  await pods?.removeAll();
  await removeLeftovers();
  await api?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  release?.();
}, 300_000);

describe(`prod's Kubernetes pods on a real container engine (${[STAND_IN_SERVERS.mongo, STAND_IN_SERVERS.redis, STAND_IN_SERVERS.influxdb].join("; ")})`, { timeout: 300_000 }, () => {
  test("1. each pod template starts as its image's own user and passes its startup and readiness probes; the Mongo key is a 0400 copy", async () => {
    const started = await startDatabasePods();
    const uid = async (name: string) => (await pods.exec(pods.pods.get(name)!, ["sh", "-c", "id -u; cat /proc/1/status | grep -E '^(Uid|CapEff|NoNewPrivs)'"])).trim();
    for (const pod of started) {
      const status = await uid(pod.name);
      const expectedUid = pod.name.startsWith("trading-influxdb") ? "1000" : "999";
      expect(status.split("\n")[0], pod.name).toBe(expectedUid);
      // PID 1 (the server) runs as that user, with no capability and no way to gain one.
      expect(status, pod.name).toMatch(new RegExp(`Uid:\\s+${expectedUid}\\s+${expectedUid}`));
      expect(status, pod.name).toMatch(/CapEff:\s+0+\n/);
      expect(status, pod.name).toMatch(/NoNewPrivs:\s+1/);
      // The root filesystem is read-only: the server started and serves with only its claims and emptyDirs to write to.
      expect((await pod.container.inspect()).HostConfig.ReadonlyRootfs, pod.name).toBe(true);
      const write = await pods.command(pod, ["sh", "-c", "touch /trading-db-stack-write-test"]);
      expect(write, pod.name).toMatchObject({ exitCode: 1, output: expect.stringContaining("Read-only file system") });
    }
    const keyfile = await pods.exec(pods.pods.get("trading-mongodb-1")!, ["stat", "-c", "%a %u", "/etc/mongo-keyfile/keyfile"]);
    expect(keyfile.trim()).toBe("400 999");
  });

  test("2. the hooks set every database up through port-forwards to the pods (PostgreSQL's primary found by its label); the replica set forms over the pods' DNS names", async () => {
    await startOperatorInstances();
    const pg = hook("trading-postgres-init");
    expect((await pg.provider.create(pg.inputs)).outs.migrations).toMatchObject({ trading_platform: expect.any(Array) });
    const redis = hook("trading-redis-init");
    await redis.provider.create(redis.inputs);
    const influx = hook("trading-influxdb-init");
    const influxOuts = (await influx.provider.create(influx.inputs)).outs;
    expect(Object.keys(influxOuts.tokenValues).sort()).toEqual(["read", "write"]);
    const mongo = hook("trading-mongo-init");
    const mongoOuts = (await mongo.provider.create(mongo.inputs)).outs;
    // "host STATE" per member, the hosts being the pods' names in the cluster's DNS.
    expect(mongoOuts.memberStates.map((s: string) => s.split(" ")[1]).sort()).toEqual(["PRIMARY", "SECONDARY", "SECONDARY"]);
    expect(mongo.inputs.members.map((m: { host: string }) => m.host)).toEqual([0, 1, 2].map((i) => `trading-mongodb-${i}.trading-mongodb-headless.${NAMESPACE}.svc.cluster.local:27017`));
    // Every hook went through the API server's port-forward, to the pods it names.
    const reached = new Set(api.requests.filter((r) => r.status === 101).map((r) => r.pod));
    expect([...reached].sort()).toEqual(["trading-influxdb-0", "trading-mongodb-0", "trading-mongodb-1", "trading-mongodb-2", "trading-postgres-1", "trading-redis-0"]);
    // No pod ran the image's init phase (no pod has root's password): the hook made root through
    // __system, and the secondaries took it from the primary.
    const log = async (pod: string) => (await pods.pods.get(pod)!.container.logs({ stdout: true, stderr: true })).toString("utf8");
    for (const pod of ["trading-mongodb-0", "trading-mongodb-1", "trading-mongodb-2"]) expect(await log(pod), pod).not.toContain("MongoDB init process complete");
    expect(mongoOuts.rootReset).toBe(true);
  });

  test("3. npm run verify, from the stack's outputs, reaches every pod through port-forwards (PostgreSQL's by their labels, as the monitoring role) and finds the stack whole", async () => {
    const outputs = Object.fromEntries(Object.entries(run.outputs).map(([k, v]) => [k, plain(v.value)]));
    const file = path.join(dir, "outputs.json");
    fs.writeFileSync(file, JSON.stringify(outputs));
    // $KUBECONFIG, set for this process, reaches the tool too.
    const result = await runTool("verify", ["--from-json", file, "--timeout-seconds", "10"]);
    expect(result.status, result.stdout + result.stderr).toBe(0);
    // Over TLS, verified against the stack's CA from the outputs (the URIs name the consumers' CA file).
    expect(result.stdout).toMatch(/^ok\s+postgres\s+primary postgresql:\/\/trading-db\/trading-postgres-1:5432\/postgres\?sslmode=verify-full\S*\s+primary, PostgreSQL 15\.\d+.*, 1 replica\(s\) streaming$/m);
    expect(result.stdout).toMatch(/^ok\s+postgres\s+replica 1 postgresql:\/\/trading-db\/trading-postgres-2:5432\/postgres\?sslmode=verify-full\S* .* streaming via _cnpg_trading_postgres_2/m);
    expect(result.stdout).toMatch(/^ok\s+redis\s+rediss:\/\//m);
    expect(result.stdout).toMatch(/^ok\s+mongodb\s+replica set rs0\s+one writable primary, 3 of 3 members answering$/m);
    expect(result.stdout).toMatch(/all 8 checks passed\n$/);
  });
  test("4. dev's admin tools as Deployment pods: pgAdmin (keeping its python's NET_BIND_SERVICE) and mongo-express, reaching the databases by their Service and pod names", async () => {
    // dev on Kubernetes declares the same object names, and the mocks' credentials are the same.
    // With tls, and the same CA and certificates as the stack's (withRealTls): mongo-express verifies the members.
    const dev = await runProgram(
      "dev",
      { ...images, platform: "kubernetes", tls: "true", pgadminImage: await ensureStandIn(docker, STAND_INS.pgadmin), mongoExpressImage: await ensureStandIn(docker, STAND_INS.mongoExpress) },
      withRealTls,
    );
    const tools = new PodRunner(docker, dev, NETWORK, PREFIX);
    try {
      const pgadmin = await tools.start("trading-pgadmin", 0, "Deployment");
      const status = await tools.exec(pgadmin, ["sh", "-c", "id -u; grep -E '^(CapBnd|NoNewPrivs)' /proc/1/status"]);
      expect(status).toMatch(/^5050\n/);
      // Its python (the stand-in carries the image's setcap) runs under no_new_privs: exec needs the
      // file capability in the bounding set only, and pgAdmin listens on 8080, needing none.
      expect(status).toMatch(/NoNewPrivs:\s+1/);
      // Only NET_BIND_SERVICE (bit 10) in the bounding set.
      expect(status).toMatch(/CapBnd:\s+0+400\n/);
      // mongo-express logs in as its own user, which dev's MongoDB hook declares (prod's, which ran
      // above, has no admin tools): made here as that hook would, with dev's password and roles.
      const toolsUser = (plain(dev.byName("trading-mongo-init").inputs).users as Array<{ name: string; password: string; roles: unknown[] }>).find((u) => u.name === "trading_admin_tools")!;
      await onMongoPrimary(
        hook("trading-mongo-init").inputs.rootPassword,
        (c) => c.db("admin").command({ createUser: toolsUser.name, pwd: toolsUser.password, roles: toolsUser.roles, writeConcern: { w: "majority" } }),
        30_000,
        "no primary to make mongo-express's user on",
      );
      // mongo-express is ready only once it has connected to the replica set, by the pods' DNS names.
      const mongoExpress = await tools.start("trading-mongo-express", 0, "Deployment");
      expect((await tools.exec(mongoExpress, ["id", "-u"])).trim()).toBe("1000");
      // mongo-express serves on a read-only root; pgAdmin's stays writable (its entrypoint writes into /pgadmin4).
      expect([(await mongoExpress.container.inspect()).HostConfig.ReadonlyRootfs, (await pgadmin.container.inspect()).HostConfig.ReadonlyRootfs]).toEqual([true, false]);
    } finally {
      await tools.removeAll();
    }
  });

  test("5. the stack destroyed with its claims kept, then a new stack with other credentials on them: the wrappers (as the images' users) and the hooks apply them; the data is there; the old ones fail (PostgreSQL: the operator's, with its Cluster kept)", async () => {
    const oldRoot = hook("trading-mongo-init").inputs.rootPassword;
    await onMongoPrimary(
      oldRoot,
      (c) => c.db("trading_configs").collection("pods_marker").insertOne({ kept: true }, { writeConcern: { w: "majority" } }),
      60_000,
      "no member became primary",
    );

    // `pulumi destroy` with retainData: the StatefulSets go, their claims stay.
    await pods.removePods();
    const fresh = {
      mongoRootPassword: "New-mongo-root-password-2026",
      redisAdminPassword: "New-redis-admin-password-2026",
      influxdbAdminPassword: "New-influx-admin-password-2026",
    };
    // A new stack: a new CA and new certificates.
    realTls.clear();
    run = await runProgram("prod", { ...images, postgresReplicas: "1", tls: "true", ...fresh }, withRealTls);
    pods.useProgram(run);
    const started = await startDatabasePods();
    for (const name of ["trading-redis-init", "trading-influxdb-init", "trading-mongo-init"]) await hook(name).provider.create(hook(name).inputs);

    const [, influx, newMember] = started;
    // The hook wrote the new password with a majority; pod 0 may be the member that has it a moment later.
    let kept = 0;
    await waitUntil(
      async () => (kept = await withMongo(rootUri(fresh.mongoRootPassword, newMember.hostPort), (c) => c.db("trading_configs").collection("pods_marker").countDocuments({ kept: true })).catch(() => -1)) === 1,
      30_000,
      () => `pod 0 never answered the new root password with the kept marker (last: ${kept})`,
      500,
    );
    await expect(withMongo(rootUri(oldRoot, newMember.hostPort), (c) => c.db("admin").command({ ping: 1 }))).rejects.toThrow(/Authentication failed/);
    const influxLog = (await influx.container.logs({ stdout: true, stderr: true })).toString("utf8");
    expect(influxLog).toContain("applying the declared password of admin to the existing bolt file");
  });
});
