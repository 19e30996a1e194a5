// Redis with `tls` on, against a real redis-server (this machine's Redis 7.0, built with TLS)
// started from the very redis.conf and ACL file the dev stack uploads, its certificate from a test
// CA in place of the stack's: the TLS port only, the healthcheck, the serialised hook and
// `npm run verify` verifying against the CA; a clear connection and a wrong CA get nothing.
import { spawnSync } from "child_process";
import * as fs from "fs";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mockPassword, plain, requireBuilt, runProgram, serializedHook, type ProgramRun } from "../support/pulumi";
import { startRedisFromUploads, type RedisTestServer } from "../support/redis";
import { CERTIFICATE_REFUSED, issueTestCert, makeTestCa, type TestCa } from "../support/tls";

let run: ProgramRun;
let server: RedisTestServer;
let ca: TestCa;
let stranger: TestCa;
const appPassword = mockPassword("trading-secrets-redis-app-password", 32);

beforeAll(async () => {
  run = await runProgram("dev", { tls: "true" });
  ca = makeTestCa("redis");
  stranger = makeTestCa("stranger");
  const cert = issueTestCert(ca, ca.dir, "redis", { dns: ["redis", "trading-redis", "localhost"], ips: ["127.0.0.1"] });
  const real: Record<string, string> = { "/run/secrets/tls-server.crt": cert.pem, "/run/secrets/tls-server.key": cert.keyPem, "/run/secrets/tls-ca.crt": ca.pem };
  const uploads = plain(run.byName("trading-redis-server").inputs).uploads.map((u: { file: string; content: string }) => ({ ...u, content: real[u.file] ?? u.content }));
  server = await startRedisFromUploads(uploads, "/usr/local/etc/redis/redis.conf", "/data");
});

afterAll(async () => {
  await server?.stop();
  if (server) fs.rmSync(server.dir, { recursive: true, force: true });
});

/** PING as the app user with these connection options: "PONG", or the reason it failed. */
async function ping(options: Record<string, unknown>): Promise<string> {
  const client = new Redis({ host: "127.0.0.1", port: server.port, username: "trading_app", password: appPassword, lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
  let reason: Error | undefined;
  client.on("error", (error: Error) => (reason = error));
  try {
    await client.connect();
    return await client.ping();
  } catch (error) {
    return (reason ?? (error as Error)).message;
  } finally {
    client.disconnect();
  }
}

describe("Redis with tls", () => {
  test("the TLS port only: a verified TLS login works, a clear one gets no answer, another CA is refused", async () => {
    expect(await ping({ tls: { ca: ca.pem, rejectUnauthorized: true } })).toBe("PONG");
    expect(await ping({})).not.toBe("PONG");
    expect(await ping({ tls: { ca: stranger.pem, rejectUnauthorized: true } })).toMatch(CERTIFICATE_REFUSED);
  });

  test("the container's healthcheck pings over TLS, verifying the server against the CA file", () => {
    const spec = requireBuilt("components/redis-spec.js");
    const command: string = spec
      .redisReadyCheck(true)
      .command.replaceAll("/run/secrets/", `${server.localPath("/run/secrets")}/`)
      .replace("-p 6379", `-p ${server.port}`);
    const result = spawnSync("sh", ["-c", command], { encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    const clear = spawnSync("sh", ["-c", spec.redisReadyCheck(false).command.replaceAll("/run/secrets/", `${server.localPath("/run/secrets")}/`).replace("-p 6379", `-p ${server.port}`)], { encoding: "utf8" });
    expect(clear.status).not.toBe(0);
  });

  test("the hook (serialised, tls on) seeds over verified TLS; with another CA it fails naming the certificate", async () => {
    const hook = serializedHook(run.byName("trading-redis-init"));
    const inputs: Record<string, any> = { ...hook.inputs, host: "127.0.0.1", port: server.port, timeoutSeconds: 5 };
    expect(inputs.tlsCa).toContain("BEGIN CERTIFICATE");
    const outs = (await hook.provider.create({ ...inputs, tlsCa: ca.pem })).outs;
    expect(outs.seededThisRun.length + outs.keptExisting.length).toBeGreaterThan(0);
    await expect(hook.provider.create({ ...inputs, tlsCa: stranger.pem })).rejects.toThrow(CERTIFICATE_REFUSED);
  });

  test("REDIS_URL is rediss:// naming the CA file for redis-py; npm run verify takes the CA from the outputs instead", async () => {
    const url: string = run.outputs.redisUrls.value.host;
    expect(url).toMatch(/^rediss:\/\/trading_app:[^@]+@127\.0\.0\.1:6379\/0\?ssl_cert_reqs=required&ssl_ca_certs=\/etc\/trading-db-stack\/ca\.crt&ssl_check_hostname=true$/);
    const { redisClientConfig } = requireBuilt("tools/verify.js");
    const client = redisClientConfig(url.replace(":6379/", `:${server.port}/`), { caCertificate: ca.pem, caFile: "/nonexistent" });
    const redis = new Redis(client.url, { tls: client.tls, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await redis.connect();
    expect(await redis.ping()).toBe("PONG");
    redis.disconnect();
  });
});
