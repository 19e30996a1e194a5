// npm run bench: each init hook, run from its serialised provider against the test harness's real
// servers, cold (empty database) and warm (a no-op re-run), next to the raw baseline for the same
// work (psql -X -1 -f of the same SQL; bare driver calls for MongoDB and Redis); and the time
// MongoDB takes from members listening to a writable primary, formed as the hook forms it now
// (member 1 alone, the others added) and as it did before (all three at once), with dev's and
// MongoDB's default election timeout. Medians over several runs. A benchmark, not a timed test: nothing here fails
// on a number. Runs: BENCH_RUNS (default 5), BENCH_ELECTION_RUNS (default 3).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Redis from "ioredis";
import { BSON, MongoClient, type Document } from "mongodb";
import { test } from "vitest";
import { median, table } from "./report";
import { programKeyfile, startMembers, stopMembers, type MongoMember } from "../test/support/mongo";
import { pgBinDir, removeServerDir, startPrimary, type PgServer } from "../test/support/postgres";
import { plain, ROOT, runProgram, serializedHook, type SerializedHook } from "../test/support/pulumi";
import { startRedisFromUploads, type RedisTestServer } from "../test/support/redis";
import { waitUntil } from "../test/support/wait";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ELECTION_RUNS = Number(process.env.BENCH_ELECTION_RUNS ?? 3);

interface Row {
  work: string;
  cold: number[];
  warm: number[];
  baseline: number[];
}

const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

// ---- PostgreSQL ---------------------------------------------------------------------------

async function benchPostgres(hook: SerializedHook): Promise<Row> {
  const server: PgServer = await startPrimary(hook.inputs.superuserPassword, "bench");
  const inputs: Record<string, any> = { ...hook.inputs, port: server.port };
  const databases: Array<{ name: string; owner: string; migrations: Array<{ file: string }>; seeds: Array<{ file: string }> }> = inputs.databases;
  const roles = [inputs.replicationRole, inputs.readonlyRole, ...databases.map((d) => d.owner)];
  const reset = async () => {
    const client = await server.connect();
    try {
      for (const db of databases) await client.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
      for (const role of roles) await client.query(`DROP ROLE IF EXISTS ${role}`);
    } finally {
      await client.end();
    }
  };
  const psql = (args: string[]) => {
    const result = spawnSync(path.join(pgBinDir(), "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres", ...args], {
      env: { ...process.env, PGPASSWORD: inputs.superuserPassword },
      encoding: "utf8",
    });
    if (result.status !== 0) throw new Error(`psql ${args.join(" ")}: ${result.stderr}`);
  };
  const row: Row = { work: "PostgreSQL init: 2 databases, roles, 2 migrations, 1 seed", cold: [], warm: [], baseline: [] };
  try {
    for (let i = 0; i < RUNS; i++) {
      await reset();
      row.baseline.push(
        await timed(async () => {
          for (const db of databases) {
            psql(["-d", "postgres", "-c", `CREATE DATABASE ${db.name}`]);
            psql(["-1", "-d", db.name, ...[...db.migrations, ...db.seeds].flatMap((f) => ["-f", path.join(ROOT, f.file)])]);
          }
        }),
      );
      await reset();
      row.cold.push(await timed(() => hook.provider.create(inputs)));
      row.warm.push(await timed(() => hook.provider.create(inputs)));
    }
  } finally {
    await server.stop();
    removeServerDir(server);
  }
  return row;
}

// ---- MongoDB ------------------------------------------------------------------------------

const rsMembers = (members: MongoMember[]) => members.map((m, i) => ({ _id: i, host: `127.0.0.1:${m.port}`, priority: i === 0 ? 2 : 1 }));

async function benchMongo(hook: SerializedHook, keyfile: string): Promise<Row> {
  const rootPassword = hook.inputs.rootPassword;
  const members = await startMembers(3, keyfile);
  const inputs: Record<string, any> = { ...hook.inputs, members: rsMembers(members), clientEndpoints: members.map((m) => ({ host: "127.0.0.1", port: m.port })), timeoutSeconds: 120 };
  await hook.provider.create(inputs); // initiate once; cold runs start from an empty database on a running set
  const hosts = members.map((m) => `127.0.0.1:${m.port}`).join(",");
  const root = new MongoClient(`mongodb://root:${rootPassword}@${hosts}/?replicaSet=rs0&authSource=admin`, { writeConcern: { w: "majority" } });
  await root.connect();
  const users: Array<{ name: string; password: string; roles: Document[] }> = inputs.users;
  const reset = async () => {
    await root.db(inputs.database).dropDatabase();
    for (const user of users) await root.db("admin").command({ dropUser: user.name, writeConcern: { w: "majority" } }).catch(() => undefined);
  };
  const row: Row = { work: "MongoDB init: 2 users, 3 collections with validators and 6 indexes, 5 seed documents", cold: [], warm: [], baseline: [] };
  try {
    for (let i = 0; i < RUNS; i++) {
      await reset();
      row.baseline.push(
        await timed(async () => {
          // The same work with bare driver calls, on a fresh connection as the hook makes one.
          const client = new MongoClient(`mongodb://root:${rootPassword}@${hosts}/?replicaSet=rs0&authSource=admin`, { writeConcern: { w: "majority" } });
          await client.connect();
          try {
            for (const user of users) await client.db("admin").command({ createUser: user.name, pwd: user.password, roles: user.roles, writeConcern: { w: "majority" } });
            const db = client.db(inputs.database);
            for (const migration of inputs.migrations) {
              for (const step of BSON.EJSON.parse(migration.text, { relaxed: false }).steps as Document[]) {
                if (step.collection) await db.createCollection(step.collection, { validator: step.validator });
                else if (step.index) await db.collection(step.index).createIndex(step.key, { name: step.name, unique: step.unique });
              }
            }
            for (const seed of inputs.seeds) {
              for (const entry of BSON.EJSON.parse(seed.text, { relaxed: false }).upserts as Document[]) await db.collection(entry.collection).insertMany(entry.documents);
            }
          } finally {
            await client.close();
          }
        }),
      );
      await reset();
      row.cold.push(await timed(() => hook.provider.create(inputs)));
      row.warm.push(await timed(() => hook.provider.create(inputs)));
    }
  } finally {
    await root.close();
    await stopMembers(members);
  }
  return row;
}

/**
 * From three members listening to a writable primary, the way this release forms the set (member 1
 * alone in replSetInitiate: a set of one elects itself at once; the others are added afterwards) or
 * the way the releases before did (all three: the first election waits out the election timeout).
 */
async function benchFormation(keyfile: string, alone: boolean, electionTimeoutMs: number): Promise<{ times: number[]; elected: number[] }> {
  const times: number[] = [];
  const elected: number[] = [];
  for (let i = 0; i < ELECTION_RUNS; i++) {
    const members = await startMembers(3, keyfile);
    try {
      // No member has a user yet: the hook, too, initiates as __system with the members' key.
      const key = encodeURIComponent(keyfile.replace(/\s+/g, ""));
      const client = new MongoClient(`mongodb://__system:${key}@127.0.0.1:${members[0].port}/?directConnection=true&authSource=local`);
      await client.connect();
      const writable = async () => {
        try {
          await client.db("bench").collection("writable").insertOne({ at: new Date() });
          return true;
        } catch {
          return false; // NotWritablePrimary: no primary yet
        }
      };
      const config = { _id: "rs0", members: rsMembers(alone ? members.slice(0, 1) : members), settings: { electionTimeoutMillis: electionTimeoutMs } };
      times.push(
        await timed(async () => {
          await client.db("admin").command({ replSetInitiate: config });
          await waitUntil(writable, 120_000, () => "no writable primary", 20);
        }),
      );
      await client.close();
      elected.push(electedAfter(members.map((m) => m.log())));
    } finally {
      await stopMembers(members);
    }
  }
  return { times, elected };
}

/**
 * From the members' logs: milliseconds from replSetInitiate to the first "transition to PRIMARY".
 * The rest, to "writes are now permitted", is the new primary draining its oplog buffer (mongod 4.0
 * polls it once a second; 4.4 and later signal it at once).
 */
function electedAfter(logs: string[]): number {
  const at = (pattern: RegExp) =>
    Math.min(...logs.flatMap((log) => log.split("\n").filter((l) => pattern.test(l)).map((l) => Date.parse(l.slice(0, l.indexOf(" "))))));
  return at(/transition to PRIMARY/) - at(/replSetInitiate admin command received/);
}

/** The whole hook on three fresh members: formed as above, members added, users, migrations and seeds. */
async function benchFirstRun(hook: SerializedHook, keyfile: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ELECTION_RUNS; i++) {
    const members = await startMembers(3, keyfile);
    try {
      const inputs = { ...hook.inputs, members: rsMembers(members), clientEndpoints: members.map((m) => ({ host: "127.0.0.1", port: m.port })), timeoutSeconds: 120 };
      times.push(await timed(() => hook.provider.create(inputs)));
    } finally {
      await stopMembers(members);
    }
  }
  return times;
}

// ---- Redis --------------------------------------------------------------------------------

async function benchRedis(hook: SerializedHook, uploads: Array<{ file: string; content: string }>): Promise<Row> {
  const server: RedisTestServer = await startRedisFromUploads(uploads, "/usr/local/etc/redis/redis.conf", "/data");
  const inputs: Record<string, any> = { ...hook.inputs, host: "127.0.0.1", port: server.port };
  const admin = await server.client("admin", inputs.password);
  const row: Row = { work: `Redis seed: ${inputs.seeds.length} keys, SET NX`, cold: [], warm: [], baseline: [] };
  try {
    for (let i = 0; i < RUNS; i++) {
      await admin.flushall();
      row.baseline.push(
        await timed(async () => {
          const client = new Redis({ host: "127.0.0.1", port: server.port, username: "admin", password: inputs.password, lazyConnect: true });
          await client.connect();
          const pipeline = client.pipeline();
          for (const seed of inputs.seeds as Array<{ key: string; value: string }>) pipeline.set(seed.key, seed.value, "NX");
          await pipeline.exec();
          client.disconnect();
        }),
      );
      await admin.flushall();
      row.cold.push(await timed(() => hook.provider.create(inputs)));
      row.warm.push(await timed(() => hook.provider.create(inputs)));
    }
  } finally {
    admin.disconnect();
    await server.stop();
    fs.rmSync(server.dir, { recursive: true, force: true });
  }
  return row;
}

test("bench: init hooks against real servers", async () => {
  const run = await runProgram("dev");
  const keyfile = programKeyfile(run);

  const rows = [
    await benchPostgres(serializedHook(run.byName("trading-postgres-init"))),
    await benchMongo(serializedHook(run.byName("trading-mongo-init")), keyfile),
    await benchRedis(serializedHook(run.byName("trading-redis-init")), plain(run.byName("trading-redis-server").inputs).uploads),
  ];
  const mongoHook = serializedHook(run.byName("trading-mongo-init"));
  const elections: Array<{ label: string; times: number[]; elected?: number[] }> = [
    { label: "member 1 alone, then the others added (now), dev's electionTimeoutMillis 1000", ...(await benchFormation(keyfile, true, 1000)) },
    { label: "member 1 alone, then the others added (now), prod's 10000", ...(await benchFormation(keyfile, true, 10000)) },
    { label: "all three in replSetInitiate (before), dev's electionTimeoutMillis 1000", ...(await benchFormation(keyfile, false, 1000)) },
    { label: "all three in replSetInitiate (before), prod's 10000", ...(await benchFormation(keyfile, false, 10000)) },
    { label: "the whole hook's first run: formed, 2 added, users, migrations, seeds", times: await benchFirstRun(mongoHook, keyfile) },
  ];

  const hooks = table([
    ["work", "runs", "hook cold", "hook warm", "raw baseline", "cold / raw", "warm / raw"],
    ...rows.map((r) => [r.work, String(r.cold.length), ms(median(r.cold)), ms(median(r.warm)), ms(median(r.baseline)), ratio(median(r.cold), median(r.baseline)), ratio(median(r.warm), median(r.baseline))]),
  ]);
  const election = table([
    ["MongoDB: 3 members listening -> writable primary (w:1 insert)", "runs", "median", "min", "max", "elected after"],
    ...elections.map((e) => [e.label, String(e.times.length), ms(median(e.times)), ms(Math.min(...e.times)), ms(Math.max(...e.times)), e.elected ? ms(median(e.elected)) : "-"]),
  ]);
  const machine = `${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}; medians of each run's wall time, connections included`;
  const report = `\n${hooks}\n\n${election}\n\n${machine}\n`;
  process.stdout.write(report);
  fs.mkdirSync(path.join(ROOT, "bin"), { recursive: true });
  fs.writeFileSync(path.join(ROOT, "bin/bench-results.json"), JSON.stringify({ rows, elections, machine }, null, 2));
  fs.writeFileSync(path.join(ROOT, "bin/bench-results.txt"), report);
});
