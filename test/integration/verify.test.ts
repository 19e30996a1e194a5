// npm run verify against the test harness's real servers: a PostgreSQL primary with a streaming
// replica, a one-member MongoDB replica set, Redis, and the InfluxDB contract stub, each set up by
// its own init hook. The stack outputs come from the dev program (under mocks) with the endpoints
// pointed at these servers, written to a file as `pulumi stack output --json --show-secrets` would.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startInfluxStub, type InfluxStub } from "../support/influxdb-stub";
import { programKeyfile, startMembers, stopMembers, type MongoMember } from "../support/mongo";
import { removeServerDir, startPrimary, startReplica, type PgServer } from "../support/postgres";
import { mockPassword, plain, ROOT, runProgram, serializedHook } from "../support/pulumi";
import { startRedisFromUploads, type RedisTestServer } from "../support/redis";
import { runTool, type ToolRun as VerifyRun } from "../support/tools";
import { kubeconfigYaml, startPortForwardServer, type PortForwardServer } from "../support/kube-port-forward-server";
import { reservedPort } from "../support/servers";
import { Client } from "pg";

let primary: PgServer;
let replica: PgServer;
let mongo: MongoMember;
let redis: RedisTestServer;
let influx: InfluxStub;
let dir: string;
let outputsFile: string;
/** The same servers as pods of a Kubernetes stack: reached only through the port-forward server. */
let kubernetesOutputsFile: string;
let apiServer: PortForwardServer;

/** Runs the built tool as `npm run verify` does. */
function verify(...args: string[]): Promise<VerifyRun> {
  return verifyOutputs(outputsFile, ...args);
}

function verifyOutputs(file: string, ...args: string[]): Promise<VerifyRun> {
  return runTool("verify", ["--from-json", file, "--timeout-seconds", "3", ...args]);
}

const checks = async () => JSON.parse((await verify("--json")).stdout) as { ok: boolean; checks: Array<{ component: string; target: string; ok: boolean; detail: string; metrics?: Record<string, unknown> }> };

beforeAll(async () => {
  const run = await runProgram("dev");
  const hook = (name: string) => serializedHook(run.byName(name));

  const pgInit = hook("trading-postgres-init");
  const slot = hook("trading-postgres-replica-1-slot");
  primary = await startPrimary(pgInit.inputs.superuserPassword, "verify-primary");
  await pgInit.provider.create({ ...pgInit.inputs, port: primary.port });
  await slot.provider.create({ ...slot.inputs, port: primary.port });
  replica = await startReplica({ primary, slot: slot.inputs.slotName, replicationUser: pgInit.inputs.replicationRole, replicationPassword: pgInit.inputs.replicationPassword });

  const rootPassword = mockPassword("trading-secrets-mongo-root-password", 32);
  [mongo] = await startMembers(1, programKeyfile(run));
  const mongoInit = hook("trading-mongo-init");
  await mongoInit.provider.create({
    ...mongoInit.inputs,
    members: [{ _id: 0, host: `127.0.0.1:${mongo.port}`, priority: 2 }],
    clientEndpoints: [{ host: "127.0.0.1", port: mongo.port }],
    timeoutSeconds: 60,
  });

  redis = await startRedisFromUploads(plain(run.byName("trading-redis-server").inputs).uploads, "/usr/local/etc/redis/redis.conf", "/data");

  const influxInit = hook("trading-influxdb-init");
  influx = await startInfluxStub({ adminToken: influxInit.inputs.adminToken, org: "trading-platform", bucket: "market-data", retentionSeconds: 7 * 86400 });
  await influxInit.provider.create({ ...influxInit.inputs, url: influx.url });

  const outputs = Object.fromEntries(Object.entries(run.outputs).map(([k, v]) => [k, v.value]));
  outputs.adminConnections = {
    postgres: {
      primary: `postgresql://postgres:${pgInit.inputs.superuserPassword}@127.0.0.1:${primary.port}/postgres`,
      replicas: [`postgresql://postgres:${pgInit.inputs.superuserPassword}@127.0.0.1:${replica.port}/postgres`],
    },
    mongo: { members: [`mongodb://root:${rootPassword}@127.0.0.1:${mongo.port}/admin?directConnection=true&authSource=admin`] },
    redis: { url: `redis://admin:${mockPassword("trading-secrets-redis-admin-password", 32)}@127.0.0.1:${redis.port}/0` },
    influxdb: { url: influx.url, token: influxInit.inputs.adminToken },
  };
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-verify-"));
  outputsFile = path.join(dir, "outputs.json");
  fs.writeFileSync(outputsFile, JSON.stringify(outputs));

  // The same servers as the pods of a stack on Kubernetes: its URIs name local ports nothing
  // listens on (the local ends `npm run forward` would hold), and `access` the pods behind them.
  const token = "verify-token";
  apiServer = await startPortForwardServer({
    token,
    pods: {
      "trading-db/trading-postgres-0": { 5432: primary.port },
      "trading-db/trading-postgres-replica-1-0": { 5432: replica.port },
      "trading-db/trading-mongodb-0": { 27017: mongo.port },
      "trading-db/trading-redis-0": { 6379: redis.port },
      "trading-db/trading-influxdb-0": { 8086: Number(new URL(influx.url).port) },
    },
  });
  const kubeconfig = path.join(dir, "kubeconfig");
  fs.writeFileSync(kubeconfig, kubeconfigYaml([{ name: "prod-cluster", server: apiServer.url, token }]), { mode: 0o600 });
  const pod = (name: string, port: number) => ({ host: `${name}.trading-db.svc.cluster.local`, port, kubernetes: { namespace: "trading-db", pod: `${name}-0`, kubeconfig } });
  const local = { pg: await reservedPort(), replica: await reservedPort(), mongo: await reservedPort(), redis: await reservedPort(), influx: await reservedPort() };
  const relocal = (uri: string, port: number) => uri.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`);
  const onKubernetes = structuredClone(outputs) as typeof outputs;
  onKubernetes.adminConnections = {
    postgres: { primary: relocal(outputs.adminConnections.postgres.primary, local.pg), replicas: [relocal(outputs.adminConnections.postgres.replicas[0], local.replica)] },
    mongo: { members: [relocal(outputs.adminConnections.mongo.members[0], local.mongo)] },
    redis: { url: relocal(outputs.adminConnections.redis.url, local.redis) },
    influxdb: { url: `http://127.0.0.1:${local.influx}`, token: outputs.adminConnections.influxdb.token },
    access: {
      postgres: { primary: pod("trading-postgres", 5432), replicas: [pod("trading-postgres-replica-1", 5432)] },
      mongo: { members: [pod("trading-mongodb", 27017)] },
      redis: pod("trading-redis", 6379),
      influxdb: pod("trading-influxdb", 8086),
    },
  };
  kubernetesOutputsFile = path.join(dir, "outputs-kubernetes.json");
  fs.writeFileSync(kubernetesOutputsFile, JSON.stringify(onKubernetes));
}, 120_000);

afterAll(async () => {
  await replica?.stop();
  await primary?.stop();
  for (const server of [replica, primary]) if (server) removeServerDir(server);
  if (mongo) await stopMembers([mongo]);
  await redis?.stop();
  if (redis) fs.rmSync(redis.dir, { recursive: true, force: true });
  await influx?.close();
  await apiServer?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("npm run verify", () => {
  test("every database healthy: a table for people, exit 0", async () => {
    const result = await verify();
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ok\s+postgres\s+primary postgresql:\/\/127\.0\.0\.1:\d+\/postgres\s+primary, PostgreSQL 15\.\d+.*, 1 replica\(s\) streaming$/m);
    expect(result.stdout).toMatch(/^ok\s+postgres\s+replica 1 .* streaming via trading_replica_1, lag \d+ bytes/m);
    expect(result.stdout).toMatch(/^ok\s+mongodb\s+member 1 .* PRIMARY in rs0/m);
    expect(result.stdout).toMatch(/^ok\s+mongodb\s+replica set rs0\s+one writable primary, 1 of 1 members answering$/m);
    expect(result.stdout).toMatch(/^ok\s+redis\s+redis:\/\/127\.0\.0\.1:\d+\/0\s+PONG, .* used of 256\.00M \(volatile-lru\), AOF on/m);
    expect(result.stdout).toMatch(/^ok\s+influxdb\s+http:\/\/127\.0\.0\.1:\d+\s+pass \(v2\.7\.12\), 5 of 5 buckets$/m);
    expect(result.stdout).toMatch(/all 6 checks passed\n$/);
    // No password in the report.
    expect(result.stdout).not.toContain(mockPassword("trading-secrets-redis-admin-password", 32));
    expect(result.stdout).not.toContain("postgres:mock");
    expect(influx.violations).toEqual([]);
  });

  test("--json for machines: every check with its metrics, the replica's lag in bytes", async () => {
    const report = await checks();
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.component)).toEqual(["postgres", "postgres", "mongodb", "mongodb", "redis", "influxdb"]);
    const replicaCheck = report.checks[1];
    expect(replicaCheck.metrics).toMatchObject({ lagBytes: expect.any(Number) });
    expect(report.checks[4].metrics).toMatchObject({ aofEnabled: true, maxMemoryBytes: 256 * 1024 * 1024 });
  });

  test("on Kubernetes: every server through a port-forward to its pod, the report naming the pods", async () => {
    const before = apiServer.requests.length;
    const result = await verifyOutputs(kubernetesOutputsFile);
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ok\s+postgres\s+primary postgresql:\/\/trading-db\/trading-postgres-0:5432\/postgres\s+primary, PostgreSQL 15\.\d+.*, 1 replica\(s\) streaming$/m);
    expect(result.stdout).toMatch(/^ok\s+postgres\s+replica 1 postgresql:\/\/trading-db\/trading-postgres-replica-1-0:5432\/postgres .* streaming via trading_replica_1/m);
    expect(result.stdout).toMatch(/^ok\s+mongodb\s+member 1 mongodb:\/\/trading-db\/trading-mongodb-0:27017.* PRIMARY in rs0/m);
    expect(result.stdout).toMatch(/^ok\s+redis\s+redis:\/\/trading-db\/trading-redis-0:6379\/0\s+PONG/m);
    expect(result.stdout).toMatch(/^ok\s+influxdb\s+http:\/\/trading-db\/trading-influxdb-0:8086\s+pass/m);
    expect(result.stdout).toMatch(/all 6 checks passed\n$/);
    const pods = new Set(apiServer.requests.slice(before).filter((r) => r.status === 101).map((r) => r.pod));
    expect([...pods].sort()).toEqual(["trading-influxdb-0", "trading-mongodb-0", "trading-postgres-0", "trading-postgres-replica-1-0", "trading-redis-0"]);
  });

  test("npm run forward holds a port-forward on each local port the outputs name, until stopped", async () => {
    const outputs = JSON.parse(fs.readFileSync(kubernetesOutputsFile, "utf8"));
    const child = spawn(process.execPath, [path.join(ROOT, "bin/tools/forward.js"), "--from-json", kubernetesOutputsFile], { cwd: ROOT });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`forward never got ready: ${stdout}`)), 30_000);
        child.stdout.on("data", () => stdout.includes("ready;") && (clearTimeout(timer), resolve()));
      });
      expect(stdout).toContain(`forwarding 127.0.0.1:${new URL(outputs.adminConnections.postgres.primary).port} -> trading-db/trading-postgres-0:5432`);
      // The URI from the outputs, unchanged, works while forward runs.
      const client = new Client({ connectionString: outputs.adminConnections.postgres.primary });
      await client.connect();
      expect((await client.query("SELECT pg_is_in_recovery() AS recovery")).rows[0].recovery).toBe(false);
      await client.end();
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    const again = new Client({ connectionString: outputs.adminConnections.postgres.primary, connectionTimeoutMillis: 2000 });
    await expect(again.connect()).rejects.toThrow(/ECONNREFUSED/);
  });

  test("npm run forward on a Docker stack says there is nothing to forward", async () => {
    const result = await runTool("forward", ["--from-json", outputsFile]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("runs on Docker");
  });

  test("a replica that is down fails its row and the run (exit 1); the rest still report", async () => {
    await replica.stop();
    const result = await verify();
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^FAIL\s+postgres\s+replica 1 .* cannot connect: /m);
    expect(result.stdout).toMatch(/^ok\s+postgres\s+primary .* 0 replica\(s\) streaming$/m);
    expect(result.stdout).toMatch(/^ok\s+redis\s/m);
    expect(result.stdout).toMatch(/1 of 6 checks failed\n$/);
  });

  test("Redis and MongoDB down: their rows fail, with the reason, within the timeout", async () => {
    await redis.stop();
    mongo.pause();
    try {
      const started = Date.now();
      const report = await checks();
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(report.ok).toBe(false);
      const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.component} ${c.target.split(" ")[0]}`);
      expect(failed).toEqual(["postgres replica", "mongodb member", "mongodb replica", "redis redis://127.0.0.1:" + redis.port + "/0"]);
      expect(report.checks.find((c) => c.component === "redis")!.detail).toMatch(/cannot connect: .*ECONNREFUSED/);
    } finally {
      mongo.resume();
    }
  });

  test("bad input: outputs without --show-secrets are refused with exit 2", async () => {
    const hidden = path.join(dir, "hidden.json");
    fs.writeFileSync(hidden, JSON.stringify({ adminConnections: "[secret]", postgresReplicas: [], mongoReplicaSet: {}, influxdb: {} }));
    const { status, stderr } = await runTool("verify", ["--from-json", hidden]);
    expect(status).toBe(2);
    expect(stderr).toContain('output "adminConnections" is hidden as [secret]; add --show-secrets');
  });
});
