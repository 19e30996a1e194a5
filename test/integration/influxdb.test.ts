// InfluxDB init hook, run from its serialised provider (what `pulumi up` ships), against a stub
// that checks every request and response against the official InfluxDB OSS 2 API contract and
// serves back the state the hook creates. (No InfluxDB binary exists in the npm or Debian registries.)
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startInfluxStub, type InfluxStub } from "../support/influxdb-stub";
import { mockPassword, runProgram, serializedHook, type SerializedHook } from "../support/pulumi";

let hook: SerializedHook;
let stub: InfluxStub;
const adminToken = mockPassword("trading-secrets-influxdb-admin-token", 64);

/** The hook's create against `server` (the shared stub unless told), with input overrides. */
async function runHook(overrides: Record<string, unknown> = {}, server: InfluxStub = stub) {
  return (await hook.provider.create({ ...hook.inputs, url: server.url, ...overrides })).outs;
}

/** Requests that change something on the server. */
const writes = () => stub.requests.filter((r) => r.method !== "GET");

beforeAll(async () => {
  const run = await runProgram("dev");
  hook = serializedHook(run.byName("trading-influxdb-init"));
  // As setup mode leaves it (DOCKER_INFLUXDB_INIT_RETENTION from the dev stack: 7 days).
  stub = await startInfluxStub({ adminToken, org: "trading-platform", bucket: "market-data", retentionSeconds: 7 * 86400 });
});

afterEach(() => {
  expect(stub.violations).toEqual([]);
  stub.requests = [];
});

afterAll(async () => {
  await stub?.close();
});

describe("the stub enforces the contract", () => {
  test("a request the contract does not allow is refused and recorded", async () => {
    const headers = { authorization: `Token ${adminToken}`, "content-type": "application/json" };
    const missingOrg = await fetch(`${stub.url}/api/v2/buckets`, { method: "POST", headers, body: JSON.stringify({ name: "no-org" }) });
    expect(missingOrg.status).toBe(400);
    const noSuchPath = await fetch(`${stub.url}/api/v2/bucketz`, { headers });
    expect(noSuchPath.status).toBe(404);
    const badRetention = await fetch(`${stub.url}/api/v2/buckets`, { method: "POST", headers, body: JSON.stringify({ orgID: stub.org.id, name: "x", retentionRules: [{ type: "expire", everySeconds: "a day" }] }) });
    expect(badRetention.status).toBe(400);
    expect(stub.violations).toHaveLength(3);
    expect(stub.violations[0]).toMatch(/POST \/api\/v2\/buckets \(PostBuckets\) breaks the contract: .*orgID/);
    expect(stub.violations[1]).toMatch(/GET \/api\/v2\/bucketz: no such operation in the contract/);
    expect(stub.buckets.map((b) => b.name)).toEqual(["market-data"]);
    stub.violations = [];
  });
});

describe("InfluxDB init hook (serialised provider)", () => {
  test("waits for /health, then creates the buckets, the downsampling task and two scoped tokens", async () => {
    stub.unhealthyFor = 3;
    const outs = await runHook();
    expect(stub.requests.filter((r) => r.operationId === "GetHealth").map((r) => r.status)).toEqual([503, 503, 503, 200]);

    const day = 86400;
    expect(stub.buckets.map((b) => [b.name, b.retentionRules[0].everySeconds])).toEqual([
      ["market-data", 7 * day],
      ["trades", 7 * day],
      ["performance", 7 * day],
      ["system-metrics", 7 * day],
      ["market-data-1h", 90 * day],
    ]);
    expect(outs.bucketIds).toEqual(Object.fromEntries(stub.buckets.map((b) => [b.name, b.id])));
    expect(outs.orgID).toBe(stub.org.id);

    expect(stub.tasks).toHaveLength(1);
    expect(stub.tasks[0]).toMatchObject({ id: outs.taskID, name: "downsample-market-data-1h", status: "active" });
    expect(stub.tasks[0].flux).toContain('from(bucket: "market-data")');

    const byDescription = (d: string) => stub.authorizations.find((a) => a.description === d)!;
    const read = byDescription("trading-db-stack: services, read buckets");
    const write = byDescription("trading-db-stack: services, read and write buckets");
    expect(outs.tokenValues).toEqual({ read: read.token, write: write.token });
    const scopes = (a: typeof read) => a.permissions.map((p) => `${p.action} ${p.resource.type} ${p.resource.id}`).sort();
    const bucketScopes = (action: string) => stub.buckets.map((b) => `${action} buckets ${b.id}`);
    expect(scopes(read)).toEqual([...bucketScopes("read"), `read orgs ${stub.org.id}`].sort());
    expect(scopes(write)).toEqual([...bucketScopes("read"), ...bucketScopes("write"), `read orgs ${stub.org.id}`].sort());
    // Neither may touch anything else: no users, no tasks, no other orgs.
    for (const a of [read, write]) expect(a.permissions.every((p) => p.resource.id !== undefined && p.resource.orgID === stub.org.id)).toBe(true);
    expect(outs.changedThisRun).toEqual(
      expect.arrayContaining(["updated bucket market-data", "created bucket trades", "created task downsample-market-data-1h", 'created token "trading-db-stack: services, read buckets"']),
    );
  });

  test("a re-run reads the state back and changes nothing: same ids, same tokens, no write requests", async () => {
    const before = JSON.stringify([stub.buckets, stub.tasks, stub.authorizations]);
    const first = await runHook();
    expect(writes()).toEqual([]);
    expect(first.changedThisRun).toEqual([]);
    expect(JSON.stringify([stub.buckets, stub.tasks, stub.authorizations])).toBe(before);
    const again = await runHook();
    expect(again.tokenValues).toEqual(first.tokenValues);
  });

  test("a new retention is patched onto the existing buckets only", async () => {
    const buckets = hook.inputs.buckets.map((b: { name: string; retentionSeconds: number }) => (b.name === "market-data-1h" ? b : { ...b, retentionSeconds: 30 * 86400 }));
    const outs = await runHook({ buckets });
    expect(writes().map((r) => r.operationId)).toEqual(["PatchBucketsID", "PatchBucketsID", "PatchBucketsID", "PatchBucketsID"]);
    expect(stub.buckets.filter((b) => b.name !== "market-data-1h").every((b) => b.retentionRules[0].everySeconds === 30 * 86400)).toBe(true);
    expect(outs.changedThisRun).not.toContain("updated bucket market-data-1h");
  });

  test("a changed task is patched in place; a token whose scope changed is replaced and the old one revoked", async () => {
    const before = await runHook();
    const task = { ...hook.inputs.task, flux: hook.inputs.task.flux.replace("fn: mean", "fn: median") };
    const tokens = { read: hook.inputs.tokens.read, write: { ...hook.inputs.tokens.write, actions: ["write"] } };
    stub.requests = [];
    const outs = await runHook({ task, tokens });
    expect(writes().map((r) => r.operationId).sort()).toEqual(["DeleteAuthorizationsID", "PatchTasksID", "PostAuthorizations"]);
    expect(stub.tasks).toHaveLength(1);
    expect(stub.tasks[0].flux).toContain("fn: median");
    expect(outs.tokenValues.read).toBe(before.tokenValues.read);
    expect(outs.tokenValues.write).not.toBe(before.tokenValues.write);
    expect(stub.authorizations.map((a) => a.token)).not.toContain(before.tokenValues.write);
    expect(stub.authorizations.filter((a) => a.description === hook.inputs.tokens.write.description)).toHaveLength(1);
  });

  test("the declared token works: the hook never signs in and reports that token", async () => {
    const outs = await runHook();
    expect(outs).toMatchObject({ signedIn: false, operatorToken: adminToken });
    expect(stub.requests.some((r) => r.operationId === "PostSignin")).toBe(false);
  });

  test("a wrong admin token and a wrong password: fails saying so, naming nothing secret", async () => {
    const error = await runHook({ adminToken: "wrong", adminPassword: "also-wrong-password" }).catch((e: Error) => e);
    expect(String(error)).toMatch(/the declared admin token is refused and admin cannot sign in with the declared password \(401\)/);
    expect(String(error)).not.toContain(adminToken);
    expect(String(error)).not.toContain("also-wrong-password");
  });
});

describe("InfluxDB init hook on a bolt file kept from an earlier stack", () => {
  let kept: InfluxStub;
  beforeAll(async () => {
    // The earlier stack's operator token; the admin password is the new stack's, as the wrapper
    // entrypoint's `influxd recovery user update` leaves it.
    kept = await startInfluxStub({ adminToken: "token-of-the-stack-that-made-this-volume", adminPassword: hook.inputs.adminPassword, org: "trading-platform", bucket: "market-data", retentionSeconds: 0 });
  });
  afterAll(async () => {
    expect(kept.violations).toEqual([]);
    await kept.close();
  });

  test("signs in with the admin password, makes one token of its own, applies everything; a re-run reuses that token and writes nothing", async () => {
    const run = () => runHook({}, kept);
    const first = await run();
    expect(first.signedIn).toBe(true);
    expect(first.operatorToken).not.toBe(hook.inputs.adminToken);
    const own = kept.authorizations.filter((a) => a.description === "trading-db-stack: init hook (signed in with the admin password)");
    expect(own.map((a) => a.token)).toEqual([first.operatorToken]);
    expect(kept.buckets.map((b) => b.name)).toEqual(["market-data", "trades", "performance", "system-metrics", "market-data-1h"]);
    expect(Object.keys(first.tokenValues)).toEqual(["read", "write"]);

    kept.requests = [];
    const again = await run();
    expect(again).toMatchObject({ signedIn: true, operatorToken: first.operatorToken, tokenValues: first.tokenValues });
    expect(kept.requests.filter((r) => r.method !== "GET" && r.operationId !== "PostSignin")).toEqual([]);
  });
});

describe("InfluxDB init hook on a new server (never set up)", () => {
  let fresh: InfluxStub;
  beforeAll(async () => {
    fresh = await startInfluxStub({ adminToken: "unused", org: "unused", bucket: "unused", retentionSeconds: 0, awaitSetup: true });
  });
  afterAll(async () => {
    expect(fresh.violations).toEqual([]);
    await fresh.close();
  });

  test("onboards it through POST /api/v2/setup with the declared admin, password and operator token, then applies everything; a re-run does not set it up again", async () => {
    const run = () => runHook({}, fresh);
    const first = await run();
    expect(fresh.onboarded).toBe(true);
    expect(first).toMatchObject({ setUp: true, signedIn: false, operatorToken: hook.inputs.adminToken });
    expect(fresh.adminPassword).toBe(hook.inputs.adminPassword);
    expect(fresh.buckets.map((b) => b.name)).toEqual(["market-data", "trades", "performance", "system-metrics", "market-data-1h"]);
    fresh.requests = [];
    expect(await run()).toMatchObject({ setUp: false, signedIn: false });
    expect(fresh.requests.filter((r) => r.operationId === "PostSetup")).toEqual([]);
  });
});
