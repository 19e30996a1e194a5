// The dev stack with `tls` on, on a real Docker daemon: the stack's CA and certificates made as
// @pulumi/tls makes them (openssl, test/support/tls.ts), every server TLS only (MongoDB through the
// stand-in image's TLS front: its mongod 4.0 build has none).
// Every container healthy and every hook applied over verified TLS (the replica streaming from
// its primary with verify-full), the consumers' URIs verified from a container on the app
// network, `npm run verify` passing with the CA from the outputs and failing with another; then
// destroyed with its data kept and made anew: a new CA and new certificates on the kept volumes.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DockerEngine, type UpResult } from "../support/engine/docker-engine";
import { DEV_STACK as STACK, devStackOverrides, removeLeftovers } from "../support/engine/dev-stack";
import { holdDockerDaemon } from "../support/engine/lock";
import { ROOT } from "../support/pulumi";
import { makeTestCa } from "../support/tls";

const PREFIX = "tlstest";
const docker = new Docker();
let overrides: Record<string, string>;
let engine: DockerEngine;
let release: (() => void) | undefined;
let up: UpResult;
let caDir: string;

beforeAll(async () => {
  release = await holdDockerDaemon();
  // The smallest stack that still has a replica: one MongoDB member, no admin tools; its data kept by a destroy.
  overrides = { ...(await devStackOverrides(docker, PREFIX)), tls: "true", postgresReplicas: "1", mongoMembers: "1", adminTools: "false", retainData: "true" };
  await removeLeftovers(docker, PREFIX);
  engine = new DockerEngine(docker);
}, 1_200_000);

afterAll(async () => {
  await engine?.destroy().catch(() => undefined);
  await removeLeftovers(docker, PREFIX);
  if (caDir) fs.rmSync(caDir, { recursive: true, force: true });
  release?.();
}, 300_000);

/** `npm run verify -- --json` on the given outputs (the built tool, as npm runs it). */
function runVerify(outputs: Record<string, unknown>): Array<{ component: string; target: string; ok: boolean; detail: string }> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "engine-verify-")), "outputs.json");
  fs.writeFileSync(file, JSON.stringify(outputs), { mode: 0o600 });
  try {
    const run = spawnSync(process.execPath, [path.join(ROOT, "bin/tools/verify.js"), "--from-json", file, "--json", "--timeout-seconds", "10"], { encoding: "utf8" });
    return JSON.parse(run.stdout).checks;
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

/** A command in a throwaway container of `image` on the stack's app network, the CA folder mounted where the URIs name it. */
function fromAppNetwork(image: string, entrypoint: string, args: string[]) {
  const run = spawnSync("docker", ["run", "--rm", "--network", `${PREFIX}-network`, "-v", `${caDir}:/etc/trading-db-stack:ro`, "--entrypoint", entrypoint, image, ...args], { encoding: "utf8" });
  return { ok: run.status === 0, out: `${run.stdout}${run.stderr}` };
}

describe("dev stack with tls on a real Docker daemon", { timeout: 300_000 }, () => {
  test("up from nothing: every container healthy and every hook applied over verified TLS, the replica streaming over it", async () => {
    up = await engine.up(STACK, overrides);
    expect(up.run.ofType("tls:index/locallySignedCert:LocallySignedCert").length).toBe(5);
    const check = up.run.byName("trading-postgres-replica-1-check");
    expect(check).toBeDefined();
    expect(up.outputs.postgresReplicas[0].streamingState).toBe("streaming");
    // The primary sees its replica's stream, and it is TLS.
    const ssl = spawnSync("docker", ["exec", `${PREFIX}-postgres`, "psql", "-XAt", "-U", "postgres", "-c", "SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)"], { encoding: "utf8" });
    expect(ssl.stdout.trim()).toBe("t");
    // The CA where the URIs name it, for the clients below.
    caDir = fs.mkdtempSync(path.join(os.tmpdir(), "engine-ca-"));
    fs.chmodSync(caDir, 0o755);
    fs.writeFileSync(path.join(caDir, "ca.crt"), up.outputs.tls.caCertificate, { mode: 0o644 });
    expect(up.outputs.tls.caFile).toBe("/etc/trading-db-stack/ca.crt");
  });

  test("a service on the app network connects with the outputs' URIs, verifying the servers; in clear it gets nothing", () => {
    const env = up.outputs.serviceEnv.inNetwork;
    const uri: string = up.outputs.postgresUris.trading_results.serviceInNetwork;
    expect(uri).toMatch(/\?sslmode=verify-full&sslrootcert=\/etc\/trading-db-stack\/ca\.crt$/);
    const verified = fromAppNetwork(overrides.postgresImage, "psql", ["-XAt", "-d", uri, "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"]);
    expect(verified, verified.out).toMatchObject({ ok: true, out: "t\n" });
    // The simulation's variables: libpq reads PGSSLMODE and PGSSLROOTCERT.
    const sim = env["trading-simulation"];
    const conninfo = `host=${sim.POSTGRES_HOST} port=${sim.POSTGRES_PORT} dbname=${sim.POSTGRES_DB} user=${sim.POSTGRES_USER} password=${sim.POSTGRES_PASSWORD} sslmode=${sim.PGSSLMODE} sslrootcert=${sim.PGSSLROOTCERT}`;
    expect(fromAppNetwork(overrides.postgresImage, "psql", ["-XAt", "-d", conninfo, "-c", "SELECT 1"])).toMatchObject({ ok: true });
    const clear = fromAppNetwork(overrides.postgresImage, "psql", ["-XAt", "-d", uri.replace(/\?.*$/, "?sslmode=disable"), "-c", "SELECT 1"]);
    expect(clear.ok).toBe(false);
    expect(clear.out).toMatch(/rejects connection .* no encryption/);

    // Redis: the app user over TLS, verified; nothing in clear.
    const url = new URL(env["advanced-trading-platform"].REDIS_URL);
    expect(url.protocol).toBe("rediss:");
    const redisArgs = ["--no-auth-warning", "-h", url.hostname, "-p", url.port, "--user", decodeURIComponent(url.username), "--pass", decodeURIComponent(url.password)];
    const tls = fromAppNetwork(overrides.redisImage, "redis-cli", ["--tls", "--cacert", "/etc/trading-db-stack/ca.crt", ...redisArgs, "GET", "config:trading"]);
    expect(tls.ok, tls.out).toBe(true);
    expect(tls.out).not.toMatch(/ERR|NOPERM|NOAUTH/);
    const inClear = fromAppNetwork(overrides.redisImage, "redis-cli", [...redisArgs, "PING"]);
    expect(inClear.out).not.toContain("PONG");

    // InfluxDB: the service's token lists the buckets over https, verified against the CA file
    // INFLUXDB_SSL_CA_CERT names (Node's https client in the InfluxDB image); clear http gets nothing.
    const influx = env["advanced-trading-platform"];
    expect(influx.INFLUXDB_URL).toBe("https://influxdb:8086");
    const get = (url: string, ca: string | undefined) =>
      fromAppNetwork(overrides.influxdbImage, "node", [
        "-e",
        `const m = require(process.argv[1].split(":")[0]); const ca = process.argv[3] ? require("fs").readFileSync(process.argv[3]) : undefined;
         m.get(process.argv[1] + "/api/v2/buckets?org=trading-platform", { headers: { authorization: "Token " + process.argv[2] }, ...(ca ? { ca } : {}), timeout: 5000 }, (r) => { let b = ""; r.on("data", (c) => (b += c)); r.on("end", () => { console.log(r.statusCode, JSON.parse(b).buckets.map((x) => x.name).sort().join(",")); process.exit(r.statusCode === 200 ? 0 : 1); }); })
           .on("error", (e) => { console.log(e.message); process.exit(1); });`,
        url,
        influx.INFLUXDB_TOKEN,
        ...(ca ? [ca] : []),
      ]);
    const buckets = get(influx.INFLUXDB_URL, influx.INFLUXDB_SSL_CA_CERT);
    expect(buckets, buckets.out).toMatchObject({ ok: true, out: expect.stringContaining("200 market-data,market-data-1h,performance,system-metrics,trades") });
    expect(get(influx.INFLUXDB_URL, undefined).out).toMatch(/unable to verify the first certificate/);
    expect(get(influx.INFLUXDB_URL.replace("https:", "http:"), undefined).ok).toBe(false);

    // MongoDB: MONGODB_URL (tls=true, tlsCAFile) with the Node driver the mongo image's mongosh runs on; nothing in clear.
    const mongoUrl: string = env["trading-simulation"].MONGODB_URL;
    expect(mongoUrl).toMatch(/@mongodb:27017\/trading_configs\?replicaSet=rs0&authSource=admin&tls=true&tlsCAFile=\/etc\/trading-db-stack\/ca\.crt$/);
    const count = (url: string) =>
      fromAppNetwork(overrides.mongoImage, "node", [
        "-e",
        `const { MongoClient } = require("/usr/lib/trading-db-stack-stand-in/mongosh/node_modules/mongodb");
         const client = new MongoClient(process.argv[1], { serverSelectionTimeoutMS: 5000 });
         client.db().collection("algorithm_versions").countDocuments().then((n) => console.log("documents", n), (e) => (console.log(e.message), (process.exitCode = 1))).finally(() => client.close());`,
        url,
      ]);
    const mongo = count(mongoUrl);
    expect(mongo, mongo.out).toMatchObject({ ok: true, out: expect.stringMatching(/^documents [1-9]/) });
    expect(count(mongoUrl.replace(/&tls=true.*$/, "")).ok).toBe(false);
  });

  test("npm run verify passes with the CA from the outputs, and refuses every server against another CA", () => {
    const results = runVerify(up.outputs);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const stranger = makeTestCa("stranger");
    try {
      const refused = runVerify({ ...up.outputs, tls: { ...up.outputs.tls, caCertificate: stranger.pem } });
      const failed = refused.filter((r) => !r.ok);
      expect(new Set(failed.map((r) => r.component))).toEqual(new Set(["postgres", "redis", "influxdb", "mongodb"]));
      // Each connection names the certificate (MongoDB's summary only counts the members that answered).
      for (const r of failed.filter((f) => !f.target.startsWith("replica set"))) expect(r.detail).toMatch(/certificate/);
      expect(refused.filter((r) => r.ok)).toEqual([]);
    } finally {
      fs.rmSync(stranger.dir, { recursive: true, force: true });
    }
  });

  test("a second up changes nothing: the certificates are kept, no server restarts", async () => {
    const again = await engine.up(STACK, overrides);
    expect(again.operations.filter((o) => o.operation !== "same").map((o) => `${o.operation} ${o.name}`)).toEqual([]);
  });

  test("destroyed with its data kept, then a new stack: a new CA and new certificates, on the kept volumes; the hooks pass over TLS; the old CA is refused", async () => {
    const psql = (sql: string) => spawnSync("docker", ["exec", `${PREFIX}-postgres`, "psql", "-XAt", "-U", "postgres", "-d", "trading_platform", "-c", sql], { encoding: "utf8" });
    expect(psql("CREATE TABLE tls_marker (kept boolean); INSERT INTO tls_marker VALUES (true)").status).toBe(0);
    const oldCa = up.outputs.tls.caCertificate;
    await engine.destroy();
    const again = await engine.up(STACK, overrides);
    expect(again.outputs.tls.caCertificate).not.toBe(oldCa);
    expect(psql("SELECT kept FROM tls_marker").stdout.trim()).toBe("t");
    expect(again.outputs.postgresReplicas[0].streamingState).toBe("streaming");
    expect(runVerify(again.outputs).filter((r) => !r.ok)).toEqual([]);
    const stale = runVerify({ ...again.outputs, tls: { ...again.outputs.tls, caCertificate: oldCa } }).filter((r) => !r.ok);
    expect(new Set(stale.map((r) => r.component))).toEqual(new Set(["postgres", "redis", "influxdb", "mongodb"]));
  });
});
