// npm run verify -- [--json] [--from-json <file> | --stack <name>] [--timeout-seconds N]
// The live health check of a deployed stack, from its outputs: the equivalent of the seeds'
// check_databases.py and /health/* endpoints. PostgreSQL primary and each replica with its
// replication lag, MongoDB replica-set members and their states, Redis ping and memory, InfluxDB
// /health and buckets. A table for people, --json for machines; exits 1 when any check fails.
import { parseArgs } from "util";
import { InfluxDB } from "@influxdata/influxdb-client";
import { BucketsAPI, HealthAPI } from "@influxdata/influxdb-client-apis";
import Redis from "ioredis";
import { MongoClient } from "mongodb";
import { Client } from "pg";
import type { StackOutputs } from "../components/outputs";
import { reachStack } from "./reach";
import { readStackOutputs, ToolError } from "./stack-outputs";

export interface CheckResult {
  component: "postgres" | "mongodb" | "redis" | "influxdb";
  target: string;
  ok: boolean;
  detail: string;
  metrics?: Record<string, string | number | boolean | null>;
}

/** `tls` is read when there (a stack made before it has none). */
type VerifiedOutputs = Pick<StackOutputs, "adminConnections" | "postgresReplicas" | "mongoReplicaSet" | "influxdb"> & Partial<Pick<StackOutputs, "tls">>;
export const VERIFY_NEEDS: Array<keyof VerifiedOutputs> = ["adminConnections", "postgresReplicas", "mongoReplicaSet", "influxdb"];

const message = (error: unknown) => ((error as Error).message || String(error)).split("\n")[0];
/** user:password@ taken out of a URI, so a report never shows a password. */
export const withoutCredentials = (uri: string) => uri.replace(/\/\/[^@/]*@/, "//");

export async function verifyStack(outputs: VerifiedOutputs, timeoutMs = 5000): Promise<CheckResult[]> {
  const groups = await Promise.all([verifyPostgres(outputs, timeoutMs), verifyMongo(outputs, timeoutMs), verifyRedis(outputs, timeoutMs), verifyInfluxdb(outputs, timeoutMs)]);
  return groups.flat();
}

/**
 * A URI's connection, verified against the stack's CA from the outputs when it has TLS: the URI's
 * sslrootcert names where services keep the CA, which need not exist on this machine.
 */
export function postgresClientConfig(uri: string, tls: StackOutputs["tls"] | undefined): { connectionString: string; ssl?: { ca: string; rejectUnauthorized: true } } {
  if (!tls) return { connectionString: uri };
  const url = new URL(uri);
  url.searchParams.delete("sslmode");
  url.searchParams.delete("sslrootcert");
  return { connectionString: url.toString(), ssl: { ca: tls.caCertificate, rejectUnauthorized: true } };
}

async function withPostgres<T>(uri: string, tls: StackOutputs["tls"] | undefined, timeoutMs: number, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ ...postgresClientConfig(uri, tls), connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs, application_name: "trading-db-stack verify" });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function verifyPostgres(outputs: VerifiedOutputs, timeoutMs: number): Promise<CheckResult[]> {
  const { primary, replicas } = outputs.adminConnections.postgres;
  const results: CheckResult[] = [];
  // The primary's view of each replica: its state, and how far behind it replays, in bytes and seconds.
  let senders: Array<{ slot_name: string | null; state: string; lag_bytes: string | null; replay_lag_seconds: number | null }> | undefined;
  try {
    const info = await withPostgres(primary, outputs.tls, timeoutMs, async (c) => {
      senders = (
        await c.query(
          // Each sender by the slot it streams through (its replica knows that slot's name too).
          `SELECT s.slot_name, r.state, pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::text AS lag_bytes, EXTRACT(EPOCH FROM r.replay_lag)::float8 AS replay_lag_seconds
           FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid`,
        )
      ).rows;
      return (await c.query("SELECT pg_is_in_recovery() AS recovery, current_setting('server_version') AS version")).rows[0];
    });
    const ok = info.recovery === false;
    results.push({
      component: "postgres",
      target: `primary ${withoutCredentials(primary)}`,
      ok,
      detail: ok ? `primary, PostgreSQL ${info.version}, ${senders!.filter((s) => s.state === "streaming").length} replica(s) streaming` : "in recovery: this server is a standby, not a primary",
      metrics: { version: info.version },
    });
  } catch (error) {
    results.push({ component: "postgres", target: `primary ${withoutCredentials(primary)}`, ok: false, detail: `cannot connect: ${message(error)}` });
  }
  for (const [i, uri] of replicas.entries()) {
    const target = `replica ${i + 1} ${withoutCredentials(uri)}`;
    try {
      const row = await withPostgres(uri, outputs.tls, timeoutMs, async (c) => (await c.query("SELECT pg_is_in_recovery() AS recovery, (SELECT slot_name FROM pg_stat_wal_receiver) AS slot")).rows[0]);
      // The stack's slot on Docker; on Kubernetes the operator's, which the replica reports.
      const slot = outputs.postgresReplicas[i]?.slot || row.slot;
      const sender = senders?.find((s) => s.slot_name === slot);
      const lagBytes = sender?.lag_bytes == null ? null : Number(sender.lag_bytes);
      const problems: string[] = [];
      if (row.recovery !== true) problems.push("not in recovery: it is not a standby");
      if (senders && sender?.state !== "streaming") problems.push(`the primary shows no streaming connection for ${slot} (${sender?.state ?? "none"})`);
      results.push({
        component: "postgres",
        target,
        ok: problems.length === 0,
        detail: problems.length > 0 ? problems.join("; ") : `streaming via ${slot}, lag ${lagBytes ?? "?"} bytes, replay lag ${sender?.replay_lag_seconds ?? 0} s`,
        metrics: { lagBytes, replayLagSeconds: sender?.replay_lag_seconds ?? null },
      });
    } catch (error) {
      results.push({ component: "postgres", target, ok: false, detail: `cannot connect: ${message(error)}` });
    }
  }
  return results;
}

async function verifyMongo(outputs: VerifiedOutputs, timeoutMs: number): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const states: string[] = [];
  for (const [i, uri] of outputs.adminConnections.mongo.members.entries()) {
    const target = `member ${i + 1} ${withoutCredentials(uri)}`;
    const config = mongoClientConfig(uri, outputs.tls);
    const client = new MongoClient(config.uri, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs, ...config.tls });
    try {
      const status = await client.db("admin").command({ replSetGetStatus: 1 });
      const members = status.members as Array<{ name: string; stateStr: string; health: number; self?: boolean; optimeDate?: Date }>;
      const self = members.find((m) => m.self)!;
      const primary = members.find((m) => m.stateStr === "PRIMARY");
      const lagSeconds = primary?.optimeDate && self.optimeDate ? (primary.optimeDate.getTime() - self.optimeDate.getTime()) / 1000 : null;
      const unhealthy = members.filter((m) => m.health !== 1).map((m) => m.name);
      const ok = ["PRIMARY", "SECONDARY"].includes(self.stateStr);
      states.push(self.stateStr);
      results.push({
        component: "mongodb",
        target,
        ok,
        detail: `${self.name} ${self.stateStr} in ${status.set}${lagSeconds !== null && self.stateStr === "SECONDARY" ? `, ${lagSeconds} s behind the primary` : ""}${unhealthy.length ? `; sees ${unhealthy.join(", ")} down` : ""}`,
        metrics: { state: self.stateStr, lagSeconds },
      });
    } catch (error) {
      results.push({ component: "mongodb", target, ok: false, detail: `cannot connect: ${message(error)}` });
    } finally {
      await client.close().catch(() => undefined);
    }
  }
  const primaries = states.filter((s) => s === "PRIMARY").length;
  results.push({
    component: "mongodb",
    target: `replica set ${outputs.mongoReplicaSet.name}`,
    ok: primaries === 1,
    detail: primaries === 1 ? `one writable primary, ${states.length} of ${outputs.adminConnections.mongo.members.length} members answering` : `${primaries} primaries among the members that answer: writes fail`,
  });
  return results;
}

/** The driver's URI and options for a member's URI: over TLS verified against the stack's CA from the outputs (the URI's tlsCAFile names a file on the services' side). */
export function mongoClientConfig(uri: string, tls: StackOutputs["tls"] | undefined): { uri: string; tls?: { tls: true; ca: string } } {
  if (!tls) return { uri };
  const url = new URL(uri);
  url.searchParams.delete("tlsCAFile");
  return { uri: url.toString(), tls: { tls: true, ca: tls.caCertificate } };
}

/** ioredis's URL and options for REDIS_URL: over TLS verified against the stack's CA from the outputs (the URL's query names a file for redis-py). */
export function redisClientConfig(url: string, tls: StackOutputs["tls"] | undefined): { url: string; tls?: { ca: string; rejectUnauthorized: true } } {
  if (!tls) return { url };
  const parsed = new URL(url);
  parsed.search = "";
  return { url: parsed.toString(), tls: { ca: tls.caCertificate, rejectUnauthorized: true } };
}

async function verifyRedis(outputs: VerifiedOutputs, timeoutMs: number): Promise<CheckResult[]> {
  const url = outputs.adminConnections.redis.url;
  const client = redisClientConfig(url, outputs.tls);
  const redis = new Redis(client.url, { ...(client.tls ? { tls: client.tls } : {}), lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let reason: Error | undefined;
  redis.on("error", (error: Error) => (reason = error));
  try {
    await redis.connect();
    const pong = await redis.ping();
    const info = Object.fromEntries(
      (await redis.info())
        .split("\r\n")
        .filter((line) => line.includes(":"))
        .map((line) => line.split(":", 2) as [string, string]),
    );
    const ok = pong === "PONG";
    return [
      {
        component: "redis",
        target: withoutCredentials(url),
        ok,
        detail: `${pong}, ${info.used_memory_human} used of ${info.maxmemory_human} (${info.maxmemory_policy}), AOF ${info.aof_enabled === "1" ? "on" : "off"}, ${info.connected_clients} clients`,
        metrics: { usedMemoryBytes: Number(info.used_memory), maxMemoryBytes: Number(info.maxmemory), aofEnabled: info.aof_enabled === "1", version: info.redis_version },
      },
    ];
  } catch (error) {
    return [{ component: "redis", target: withoutCredentials(url), ok: false, detail: `cannot connect: ${message(reason ?? error)}` }];
  } finally {
    redis.disconnect();
  }
}

export async function verifyInfluxdb(outputs: Pick<VerifiedOutputs, "adminConnections" | "influxdb" | "tls">, timeoutMs: number): Promise<CheckResult[]> {
  const { url, token } = outputs.adminConnections.influxdb;
  // Over https the client's Node transport verifies the server against the stack's CA.
  const influx = new InfluxDB({ url, token, timeout: timeoutMs, ...(outputs.tls ? { transportOptions: { ca: outputs.tls.caCertificate } } : {}) });
  try {
    const health = await new HealthAPI(influx).getHealth();
    const buckets = (await new BucketsAPI(influx).getBuckets({ org: outputs.influxdb.org, limit: 100 })).buckets ?? [];
    const names = new Set(buckets.map((b) => b.name));
    const missing = outputs.influxdb.buckets.map((b) => b.name).filter((name) => !names.has(name));
    const ok = health.status === "pass" && missing.length === 0;
    return [
      {
        component: "influxdb",
        target: url,
        ok,
        detail: `${health.status}${health.version ? ` (${health.version})` : ""}, ${outputs.influxdb.buckets.length - missing.length} of ${outputs.influxdb.buckets.length} buckets${missing.length ? `; missing: ${missing.join(", ")}` : ""}`,
        metrics: { status: health.status ?? null, version: health.version ?? null, bucketsMissing: missing.length },
      },
    ];
  } catch (error) {
    return [{ component: "influxdb", target: url, ok: false, detail: `cannot check: ${message(error)}` }];
  }
}

export function formatTable(results: CheckResult[]): string {
  const rows = [["", "COMPONENT", "TARGET", "DETAIL"], ...results.map((r) => [r.ok ? "ok" : "FAIL", r.component, r.target, r.detail])];
  const widths = [0, 1, 2].map((col) => Math.max(...rows.map((row) => row[col].length)));
  const lines = rows.map((row) => row.map((cell, col) => (col < 3 ? cell.padEnd(widths[col]) : cell)).join("  "));
  const failed = results.filter((r) => !r.ok).length;
  return `${lines.join("\n")}\n\n${failed === 0 ? `all ${results.length} checks passed` : `${failed} of ${results.length} checks failed`}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: "boolean", default: false }, "from-json": { type: "string" }, stack: { type: "string" }, "timeout-seconds": { type: "string", default: "5" } },
  });
  const timeoutSeconds = Number(values["timeout-seconds"]);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new ToolError(`--timeout-seconds must be a positive number; got ${values["timeout-seconds"]}`);
  const outputs = readStackOutputs({ fromJson: values["from-json"], stack: values.stack }, VERIFY_NEEDS);
  // On Kubernetes: a port-forward to each pod first; the report names the pods.
  const reached = await reachStack(outputs.adminConnections);
  let results: CheckResult[];
  try {
    results = await verifyStack({ ...outputs, adminConnections: reached.connections }, timeoutSeconds * 1000);
  } finally {
    await reached.close();
  }
  for (const [uri, label] of reached.labels) {
    const local = new URL(uri).host;
    for (const r of results) r.target = r.target.replace(local, label);
  }
  process.stdout.write(values.json ? `${JSON.stringify({ ok: results.every((r) => r.ok), checks: results }, null, 2)}\n` : formatTable(results));
  return results.every((r) => r.ok) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`npm run verify: ${(error as Error).message}\n`);
      process.exit(2);
    },
  );
}
