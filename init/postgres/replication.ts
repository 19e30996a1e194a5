// Replication hooks, run inside serialised dynamic providers (see init/hook.ts):
// - a replica's physical slot on the primary: created before the replica, dropped when the replica
//   is removed, so a removed replica never holds WAL back on the primary;
// - the check that a replica really streams: a marker written on the primary must show up on the
//   replica within a bounded time, the replica must refuse a write and stream through its slot.
import type { Client } from "pg";
import { openAccess, withAccess, withAccesses, type KubernetesTarget, type OpenedAccess, type ServerAccess } from "../access";
import { connectPostgres } from "./client";

export interface ReplicationSlotInputs extends Record<string, unknown> {
  /** sha256 of the hook's serialised code (init/hook-resource.ts): a code change re-runs the hook. */
  hookVersion: string;
  host: string;
  port: number;
  /** Under Kubernetes: the primary's pod, reached through a port-forward to `port` (init/access.ts). */
  kubernetes?: KubernetesTarget;
  /** With TLS: the stack's CA (PEM); the connection verifies the server's certificate against it. */
  tlsCa?: string;
  superuser: string;
  superuserPassword: string;
  slotName: string;
  connectTimeoutSeconds: number;
}

export async function ensureReplicationSlot(inputs: ReplicationSlotInputs): Promise<Record<string, unknown>> {
  return withAccess(primaryAccess(inputs), (server) => createSlot(inputs, server));
}

async function createSlot(inputs: ReplicationSlotInputs, server: OpenedAccess): Promise<Record<string, unknown>> {
  const client = await connectPrimary(inputs, server);
  try {
    const { rows } = await client.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [inputs.slotName]);
    if (rows.length === 0) {
      try {
        // immediately_reserve: WAL is kept from now on, so the replica's base backup cannot miss any.
        await client.query("SELECT pg_create_physical_replication_slot($1, true)", [inputs.slotName]);
      } catch (error) {
        if ((error as { code?: string }).code !== "42710") throw error; // created meanwhile by the replica itself
      }
    }
    return { slotName: inputs.slotName };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Drops the slot. Its replica is deleted first (it depends on the slot), but its walsender may
 * linger a moment, so an active slot is released first. A primary that cannot be reached is not
 * an error here: destroy must not get stuck on it, and max_slot_wal_keep_size bounds what a
 * forgotten slot can hold.
 */
export async function dropReplicationSlot(inputs: ReplicationSlotInputs): Promise<void> {
  let server: OpenedAccess | undefined;
  let client: Client;
  try {
    server = await openAccess(primaryAccess(inputs));
    client = await connectPrimary({ ...inputs, connectTimeoutSeconds: Math.min(inputs.connectTimeoutSeconds, 15) }, server);
  } catch (error) {
    const tunnel = server?.tunnelError();
    console.error(`replication slot ${inputs.slotName} not dropped: ${(error as Error).message}${tunnel ? `; last port-forward error: ${tunnel}` : ""}`);
    await server?.close();
    return;
  }
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await client.query<{ active_pid: number | null }>("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", [inputs.slotName]);
      if (rows.length === 0) return;
      if (rows[0].active_pid === null) break;
      if (Date.now() > deadline) throw new Error(`replication slot ${inputs.slotName} is still in use by pid ${rows[0].active_pid} after 30s`);
      await client.query("SELECT pg_terminate_backend($1)", [rows[0].active_pid]);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    try {
      await client.query("SELECT pg_drop_replication_slot($1)", [inputs.slotName]);
    } catch (error) {
      if ((error as { code?: string }).code !== "42704") throw error; // already gone
    }
  } finally {
    await client.end().catch(() => undefined);
    await server.close();
  }
}

export interface ReplicaCheckInputs extends Record<string, unknown> {
  /** sha256 of the hook's serialised code (init/hook-resource.ts): a code change re-runs the hook. */
  hookVersion: string;
  primaryHost: string;
  primaryPort: number;
  /** Under Kubernetes: the primary's pod, reached through a port-forward to `primaryPort` (init/access.ts). */
  primaryKubernetes?: KubernetesTarget;
  replicaHost: string;
  replicaPort: number;
  /** With TLS: the stack's CA (PEM); both connections verify the server's certificate against it. */
  tlsCa?: string;
  /** Under Kubernetes: the replica's pod, reached through a port-forward to `replicaPort`. */
  replicaKubernetes?: KubernetesTarget;
  superuser: string;
  superuserPassword: string;
  slotName: string;
  /** How long the marker may take to reach the replica (and the replica to accept connections). */
  timeoutSeconds: number;
  /** Changes when the replica container is replaced, so the check runs again. */
  replicaId: string;
}

export interface ReplicaCheckResult extends Record<string, unknown> {
  /** Milliseconds from the marker's commit on the primary to its arrival on the replica. */
  markerLatencyMs: number;
  /** State of the replica's walsender on the primary (pg_stat_replication.state). */
  streamingState: string;
  checkedAt: string;
}

const MARKER_TABLE = "trading_db_stack_replication_check";

export async function checkReplica(inputs: ReplicaCheckInputs): Promise<ReplicaCheckResult> {
  return withAccesses(replicaCheckServers(inputs), ([primary, replica]) => check(inputs, primary, replica));
}

/** The primary and the replica, as the check reaches them. */
export function replicaCheckServers(inputs: ReplicaCheckInputs): ServerAccess[] {
  return [
    { host: inputs.primaryHost, port: inputs.primaryPort, kubernetes: inputs.primaryKubernetes },
    { host: inputs.replicaHost, port: inputs.replicaPort, kubernetes: inputs.replicaKubernetes },
  ];
}

async function check(inputs: ReplicaCheckInputs, primaryServer: OpenedAccess, replicaServer: OpenedAccess): Promise<ReplicaCheckResult> {
  const crypto = require("crypto") as typeof import("crypto");
  const where = `replica ${inputs.slotName} at ${inputs.replicaHost}:${inputs.replicaPort}`;
  const login = { user: inputs.superuser, password: inputs.superuserPassword, database: "postgres", tlsCa: inputs.tlsCa };
  const endpoint = ({ host, port, label }: OpenedAccess) => ({ host, port, label });
  const primary = await connectPostgres({ ...login, ...endpoint(primaryServer) }, inputs.timeoutSeconds, "trading-db-stack replica check");
  let replica: Client | undefined;
  try {
    replica = await connectPostgres({ ...login, ...endpoint(replicaServer) }, inputs.timeoutSeconds, "trading-db-stack replica check");
    const recovery = await replica.query<{ standby: boolean }>("SELECT pg_is_in_recovery() AS standby");
    if (!recovery.rows[0].standby) throw new Error(`${where} is not a standby (pg_is_in_recovery() is false)`);

    await primary.query(`CREATE TABLE IF NOT EXISTS ${MARKER_TABLE} (replica TEXT PRIMARY KEY, token TEXT NOT NULL, written_at TIMESTAMPTZ NOT NULL)`);
    const token = crypto.randomBytes(16).toString("hex");
    await primary.query(
      `INSERT INTO ${MARKER_TABLE} (replica, token, written_at) VALUES ($1, $2, clock_timestamp())
       ON CONFLICT (replica) DO UPDATE SET token = EXCLUDED.token, written_at = EXCLUDED.written_at`,
      [inputs.slotName, token],
    );
    const written = Date.now();
    const deadline = written + inputs.timeoutSeconds * 1000;
    for (;;) {
      const seen = await replica
        .query<{ token: string }>(`SELECT token FROM ${MARKER_TABLE} WHERE replica = $1`, [inputs.slotName])
        .catch((error: { code?: string }) => {
          if (error.code === "42P01") return { rows: [] }; // the table itself has not arrived yet
          throw error;
        });
      if (seen.rows[0]?.token === token) break;
      if (Date.now() > deadline) {
        throw new Error(
          `${where}: a marker written on the primary did not arrive within ${inputs.timeoutSeconds}s; ` +
            `see the replica's container log and pg_stat_replication on the primary`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const markerLatencyMs = Date.now() - written;

    const write = await replica.query(`INSERT INTO ${MARKER_TABLE} (replica, token, written_at) VALUES ('write-probe', 'x', now())`).then(
      () => undefined,
      (error: { code?: string; message: string }) => error,
    );
    if (!write) throw new Error(`${where} accepted a write; a replica must be read-only`);
    if (write.code !== "25006") throw new Error(`${where}: a write failed for an unexpected reason: ${write.message}`);

    const streaming = await primary.query<{ state: string; slot_active: boolean }>(
      `SELECT r.state, s.active AS slot_active
       FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
       WHERE s.slot_name = $1`,
      [inputs.slotName],
    );
    const row = streaming.rows[0];
    if (!row) throw new Error(`${where}: its replication slot ${inputs.slotName} does not exist on the primary`);
    if (!row.slot_active) throw new Error(`${where}: streams, but not through its slot ${inputs.slotName}`);
    return { markerLatencyMs, streamingState: row.state, checkedAt: new Date().toISOString() };
  } finally {
    await replica?.end().catch(() => undefined);
    await primary.end().catch(() => undefined);
  }
}

/** The primary that holds the slot, as the hook reaches it. */
export function primaryAccess(inputs: ReplicationSlotInputs): ServerAccess {
  return { host: inputs.host, port: inputs.port, kubernetes: inputs.kubernetes };
}

function connectPrimary(inputs: ReplicationSlotInputs, { host, port, label }: OpenedAccess): Promise<Client> {
  return connectPostgres(
    { host, port, label, user: inputs.superuser, password: inputs.superuserPassword, database: "postgres", tlsCa: inputs.tlsCa },
    inputs.connectTimeoutSeconds,
    "trading-db-stack replication slot",
  );
}
