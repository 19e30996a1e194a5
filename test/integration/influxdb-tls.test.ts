// InfluxDB with `tls` on: the serialised init hook and `npm run verify` against the contract stub
// serving https only with a certificate from a test CA (no InfluxDB binary exists here; the stub is
// also the stand-in image's influxd). Onboarding, the sign-in with the admin password and the API
// client all verify the server against the CA; a wrong CA and clear http get nothing.
import * as fs from "fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startInfluxStub, type InfluxStub } from "../support/influxdb-stub";
import { requireBuilt, runProgram, serializedHook, type SerializedHook } from "../support/pulumi";
import { CERTIFICATE_REFUSED, issueTestCert, makeTestCa, type TestCa } from "../support/tls";

let hook: SerializedHook;
let ca: TestCa;
let stranger: TestCa;
let tls: { certificate: string; key: string };

beforeAll(async () => {
  const run = await runProgram("dev", { tls: "true" });
  hook = serializedHook(run.byName("trading-influxdb-init"));
  ca = makeTestCa("influxdb");
  stranger = makeTestCa("stranger");
  const cert = issueTestCert(ca, ca.dir, "influxdb", { dns: ["influxdb", "trading-influxdb", "localhost"], ips: ["127.0.0.1"] });
  tls = { certificate: cert.pem, key: cert.keyPem };
});

afterAll(() => {
  for (const dir of [ca?.dir, stranger?.dir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The hook's create against `server` over https, verifying against `trust` (the test CA unless told). */
async function runHook(server: InfluxStub, overrides: Record<string, unknown> = {}) {
  return (await hook.provider.create({ ...hook.inputs, url: server.url, tlsCa: ca.pem, ...overrides })).outs;
}

describe("InfluxDB init hook over https", () => {
  let fresh: InfluxStub;
  beforeAll(async () => {
    fresh = await startInfluxStub({ adminToken: "unused", org: "unused", bucket: "unused", retentionSeconds: 0, awaitSetup: true, tls });
  });
  afterAll(async () => {
    expect(fresh.violations).toEqual([]);
    await fresh.close();
  });

  test("the stack's hook speaks https and carries the CA", () => {
    expect(hook.inputs.url).toBe("https://127.0.0.1:8086");
    expect(hook.inputs.tlsCa).toContain("BEGIN CERTIFICATE");
  });

  test("against another CA it sets nothing up and fails naming the certificate; over clear http the server gives no answer", async () => {
    await expect(runHook(fresh, { tlsCa: stranger.pem, timeoutSeconds: 1 })).rejects.toThrow(CERTIFICATE_REFUSED);
    await expect(runHook(fresh, { url: fresh.url.replace("https:", "http:"), tlsCa: undefined, timeoutSeconds: 1 })).rejects.toThrow(/not healthy after 1s/);
    expect(fresh.onboarded).toBe(false);
  });

  test("onboards a new server, applies everything over verified https; a re-run changes nothing", async () => {
    const first = await runHook(fresh);
    expect(first).toMatchObject({ setUp: true, signedIn: false, operatorToken: hook.inputs.adminToken });
    expect(fresh.buckets.map((b) => b.name)).toEqual(["market-data", "trades", "performance", "system-metrics", "market-data-1h"]);
    fresh.requests = [];
    expect(await runHook(fresh)).toMatchObject({ setUp: false, changedThisRun: [], tokenValues: first.tokenValues });
    expect(fresh.requests.filter((r) => r.method !== "GET")).toEqual([]);
  });

  test("npm run verify checks it over https with the CA from the outputs, and fails against another CA", async () => {
    const { verifyInfluxdb } = requireBuilt("tools/verify.js");
    const outputs = (caCertificate: string) => ({
      adminConnections: { influxdb: { url: fresh.url, token: hook.inputs.adminToken } },
      influxdb: { org: "trading-platform", buckets: hook.inputs.buckets },
      tls: { caCertificate, caFile: "/nonexistent" },
    });
    expect(await verifyInfluxdb(outputs(ca.pem), 3000)).toEqual([expect.objectContaining({ ok: true, detail: expect.stringMatching(/^pass.*5 of 5 buckets$/) })]);
    expect(await verifyInfluxdb(outputs(stranger.pem), 3000)).toEqual([expect.objectContaining({ ok: false, detail: expect.stringMatching(CERTIFICATE_REFUSED) })]);
  });
});

describe("InfluxDB over https, a kept bolt file whose operator token the stack does not know", () => {
  let kept: InfluxStub;
  beforeAll(async () => {
    kept = await startInfluxStub({ adminToken: "token-of-the-stack-that-made-this-volume", adminPassword: hook.inputs.adminPassword, org: "trading-platform", bucket: "market-data", retentionSeconds: 0, tls });
  });
  afterAll(async () => {
    expect(kept.violations).toEqual([]);
    await kept.close();
  });

  test("signs in with the admin password over verified https and applies everything", async () => {
    const outs = await runHook(kept);
    expect(outs.signedIn).toBe(true);
    expect(kept.requests.filter((r) => r.operationId === "PostSignin").map((r) => r.status)).toEqual([204]);
    expect(kept.buckets.map((b) => b.name)).toEqual(["market-data", "trades", "performance", "system-metrics", "market-data-1h"]);
  });
});
