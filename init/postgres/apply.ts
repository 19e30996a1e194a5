// The PostgreSQL init hook: roles, databases, migrations and seed data, run from `pulumi up` once
// the primary is healthy. Runs inside the serialised dynamic provider (see init/hook.ts).
//
// Safe to re-run at any point: a cluster-wide advisory lock serialises concurrent runs; roles and
// databases are created only when missing (on Kubernetes the CloudNativePG operator makes them, and
// the hook logs in as each database's owner only); each migration and seed file runs in its own
// transaction together with its record in schema_migrations, so a run killed half-way leaves
// either the whole file applied and recorded, or nothing.
import type { Client } from "pg";
import { withAccess, type KubernetesTarget, type OpenedAccess, type ServerAccess } from "../access";
import { connectPostgres, quoteIdent, quoteLiteral } from "./client";
import { planVersionedFiles, type RecordedFile } from "../versioned-files";
import type { SqlScript } from "./scripts";

export interface PostgresInitDatabase {
  name: string;
  /** Owns the schema; the hook runs the migrations and seeds as it. */
  owner: string;
  /** The services' role: DML on every table but schema_migrations, USAGE on the sequences. */
  service: string;
  /** Columns the read-only role may not read, per table. */
  privateColumns: Record<string, readonly string[]>;
  migrations: SqlScript[];
  seeds: SqlScript[];
}

export interface PostgresInitInputs extends Record<string, unknown> {
  /** sha256 of the hook's serialised code (init/hook-resource.ts): a code change re-runs the hook. */
  hookVersion: string;
  host: string;
  port: number;
  /** Under Kubernetes: the primary's pod, reached through a port-forward to `port` (init/access.ts). */
  kubernetes?: KubernetesTarget;
  /** With TLS: the stack's CA (PEM); every connection verifies the server's certificate against it. */
  tlsCa?: string;
  /**
   * "cloudnative-pg": the operator made the roles (with their passwords) and the databases, and the
   * superuser has no network login; the hook only works as each owner, waiting for the operator
   * to have applied a role or a new password.
   */
  managedBy?: "cloudnative-pg";
  /** The roles and databases are made as the superuser (not when managedBy). */
  superuser?: string;
  superuserPassword?: string;
  replicationRole?: string;
  replicationPassword?: string;
  readonlyRole: string;
  readonlyPassword?: string;
  /**
   * The admin tools' role (not when managedBy): a login with pg_read_all_data and CONNECT on every
   * database; without a password (the admin tools turned off) an existing one is set to NOLOGIN.
   */
  adminToolsRole?: string;
  adminToolsPassword?: string;
  /** Its predefined roles: pg_read_all_data, and pg_write_all_data when the tools may write. */
  adminToolsGrants?: string[];
  /** Owner password per database name. */
  ownerPasswords: Record<string, string>;
  /** Service role password per database name (made by the hook unless managedBy). */
  servicePasswords?: Record<string, string>;
  databases: PostgresInitDatabase[];
  connectTimeoutSeconds: number;
  /** How long to wait for another run holding the init lock. */
  lockTimeoutSeconds: number;
  scriptsChecksum: string;
  /** Changes when the primary container is replaced, so the hook checks the (possibly new) data directory again. */
  serverId: string;
}

export interface PostgresInitResult extends Record<string, unknown> {
  /** Every migration version recorded, per database. */
  migrations: Record<string, string[]>;
  /** What this run applied (migrations and seeds), per database: "migration 0001_initial_schema". */
  appliedThisRun: Record<string, string[]>;
}


const INIT_LOCK = "trading-db-stack:postgres-init";
const MIGRATION_LOCK = "trading-db-stack:migrations";

export async function applyPostgresInit(inputs: PostgresInitInputs): Promise<PostgresInitResult> {
  return withAccess(postgresInitServer(inputs), (server) => initialise(inputs, server));
}

/** The primary, as the hook reaches it. */
export function postgresInitServer(inputs: PostgresInitInputs): ServerAccess {
  return { host: inputs.host, port: inputs.port, kubernetes: inputs.kubernetes };
}

async function initialise(inputs: PostgresInitInputs, server: OpenedAccess): Promise<PostgresInitResult> {
  if (inputs.managedBy) return runScripts(inputs, server);
  const { host, port, label } = server;
  const { superuser, superuserPassword, replicationRole, replicationPassword, readonlyPassword } = inputs;
  if (!superuser || !superuserPassword || !replicationRole || !replicationPassword || !readonlyPassword) {
    throw new Error("the PostgreSQL init hook makes the roles as the superuser: superuser, replication and read-only credentials are needed");
  }
  const admin = await connectPostgres(
    { host, port, label, user: superuser, password: superuserPassword, database: "postgres", tlsCa: inputs.tlsCa },
    inputs.connectTimeoutSeconds,
    "trading-db-stack init",
  );
  try {
    await takeSessionLock(admin, INIT_LOCK, inputs.lockTimeoutSeconds);

    await inTransaction(admin, async () => {
      const service = { login: true, replication: false };
      await ensureRole(admin, replicationRole, { login: true, replication: true }, replicationPassword);
      await ensureRole(admin, inputs.readonlyRole, service, readonlyPassword);
      for (const db of inputs.databases) {
        const password = inputs.ownerPasswords[db.name];
        const servicePassword = inputs.servicePasswords?.[db.name];
        if (!password || !servicePassword) throw new Error(`no owner or service password given for database ${db.name}`);
        await ensureRole(admin, db.owner, service, password);
        await ensureRole(admin, db.service, service, servicePassword);
      }
      if (inputs.adminToolsRole) await ensureAdminToolsRole(admin, inputs.adminToolsRole, inputs.adminToolsPassword, inputs.adminToolsGrants ?? ["pg_read_all_data"]);
    });
    const readers = [inputs.readonlyRole, ...(inputs.adminToolsRole && inputs.adminToolsPassword ? [inputs.adminToolsRole] : [])];
    for (const db of inputs.databases) await ensureDatabase(admin, db, [db.service, ...readers]);

    return await runScripts(inputs, server);
  } finally {
    await admin.end().catch(() => undefined); // ends the session, and with it the advisory lock
  }
}

/** Migrations and seeds of every database: all are checked before any is applied. */
async function runScripts(inputs: PostgresInitInputs, { host, port, label }: OpenedAccess): Promise<PostgresInitResult> {
  const sessions: { db: PostgresInitDatabase; client: Client; plan: { migrations: SqlScript[]; seeds: SqlScript[] } }[] = [];
  try {
    for (const db of inputs.databases) {
      const client = await connectPostgres(
        { host, port, label, user: db.owner, password: inputs.ownerPasswords[db.name], database: db.name, tlsCa: inputs.tlsCa },
        inputs.connectTimeoutSeconds,
        "trading-db-stack migrations",
        // The operator makes the owner and the database after the Cluster is up, and applies a new password in a moment.
        { waitForOperator: inputs.managedBy !== undefined },
      );
      // The owner admits only itself, the service role and the read-only role (the superuser made the
      // database when not managed), once the operator has made those roles too.
      if (inputs.managedBy) {
        for (const role of [db.service, inputs.readonlyRole]) {
          await waitForRole(client, role, inputs.connectTimeoutSeconds);
          await restrictConnect(client, db.name, role);
        }
      }
      sessions.push({ db, client, plan: { migrations: [], seeds: [] } });
      await takeSessionLock(client, MIGRATION_LOCK, inputs.lockTimeoutSeconds);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        kind       TEXT NOT NULL CHECK (kind IN ('migration', 'seed')),
        version    TEXT NOT NULL,
        name       TEXT NOT NULL,
        checksum   TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        applied_by TEXT NOT NULL DEFAULT current_user,
        PRIMARY KEY (kind, version))`);
      const { rows } = await client.query<RecordedFile>("SELECT kind, version, checksum, applied_at FROM schema_migrations");
      sessions[sessions.length - 1].plan = planVersionedFiles(db.name, db, rows);
    }

    const result: PostgresInitResult = { migrations: {}, appliedThisRun: {} };
    for (const { db, client, plan } of sessions) {
      const applied: string[] = [];
      for (const script of plan.migrations) {
        await applyScript(client, db, "migration", script);
        applied.push(`migration ${script.version}_${script.name}`);
      }
      for (const script of plan.seeds) {
        await applyScript(client, db, "seed", script);
        applied.push(`seed ${script.version}_${script.name}`);
      }
      await grantTables(client, db, inputs.readonlyRole);
      const { rows } = await client.query<{ version: string }>("SELECT version FROM schema_migrations WHERE kind = 'migration' ORDER BY version");
      result.migrations[db.name] = rows.map((r) => r.version);
      result.appliedThisRun[db.name] = applied;
    }
    return result;
  } finally {
    for (const { client } of sessions) await client.end().catch(() => undefined);
  }
}

async function applyScript(client: Client, db: PostgresInitDatabase, kind: "migration" | "seed", script: SqlScript): Promise<void> {
  await client.query("BEGIN");
  try {
    await client.query(script.sql);
    await client.query(
      `INSERT INTO schema_migrations (kind, version, name, checksum) VALUES ($1, $2, $3, $4)
       ON CONFLICT (kind, version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, applied_at = now()`,
      [kind, script.version, script.name, script.checksum],
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    const position = Number((error as { position?: string }).position);
    const line = Number.isFinite(position) && position > 0 ? ` (line ${script.sql.slice(0, position).split("\n").length})` : "";
    throw new Error(`database ${db.name}: ${kind} ${script.file} failed and was rolled back${line}: ${(error as Error).message}`);
  }
}

const DML = ["SELECT", "INSERT", "UPDATE", "DELETE"];

/** A relation of the public schema the owner may grant on, with what a role holds on it now (its own grants only). */
interface RelationGrants {
  name: string;
  /** pg_class.relkind: r table, p partitioned, v view, m materialized view, f foreign table, S sequence. */
  kind: string;
  granted: string[];
  columns: string[];
  readableColumns: string[];
}

/**
 * The service role's and the read-only role's privileges on the owner's tables, views and
 * sequences, made exactly what they should be, tables of later migrations included:
 * - service: SELECT, INSERT, UPDATE, DELETE on every table and view but schema_migrations (no
 *   TRUNCATE, REFERENCES or TRIGGER), USAGE on the sequences (serial columns); nothing on schema_migrations;
 * - read-only: SELECT on every table and view, but on a table with private columns
 *   (password_hash) only the other columns.
 * Also what the owner grants on the tables it creates later (default privileges), so a service
 * keeps working between a migration and the hook's grants. Grants and revokes only what differs
 * (a GRANT rewrites the catalog row even when nothing changes); a stack whose roles had other
 * rights (before this release: the read-only role on users.password_hash) is corrected in place.
 * Only the owner's relations: one an operator made as another role is theirs to grant.
 */
async function grantTables(client: Client, db: PostgresInitDatabase, readonlyRole: string): Promise<void> {
  const statements: string[] = [];
  for (const [role, wanted] of [
    [db.service, (rel: RelationGrants) => (rel.kind === "S" ? ["USAGE"] : rel.name === "schema_migrations" ? [] : rel.kind === "m" ? ["SELECT"] : DML)],
    [readonlyRole, (rel: RelationGrants) => (rel.kind === "S" ? [] : db.privateColumns[rel.name] ? [] : ["SELECT"])],
  ] as const) {
    const target = quoteIdent(role);
    const { rows } = await client.query<RelationGrants & { schema_usage: boolean }>(
      `SELECT c.relname AS name, c.relkind::text AS kind,
              has_schema_privilege($1, 'public', 'USAGE') AS schema_usage,
              ARRAY(SELECT a.privilege_type FROM aclexplode(c.relacl) a WHERE a.grantee = $1::regrole ORDER BY 1) AS granted,
              ARRAY(SELECT t.attname::text FROM pg_attribute t WHERE t.attrelid = c.oid AND t.attnum > 0 AND NOT t.attisdropped ORDER BY t.attnum) AS columns,
              ARRAY(SELECT t.attname::text FROM pg_attribute t, aclexplode(t.attacl) a
                    WHERE t.attrelid = c.oid AND t.attnum > 0 AND NOT t.attisdropped AND a.grantee = $1::regrole AND a.privilege_type = 'SELECT' ORDER BY t.attnum) AS "readableColumns"
       FROM pg_class c
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
         AND pg_has_role(current_user, c.relowner, 'USAGE')
       ORDER BY c.relname`,
      [role],
    );
    if (rows.length > 0 && !rows[0].schema_usage) statements.push(`GRANT USAGE ON SCHEMA public TO ${target}`);
    for (const rel of rows) {
      const want = wanted(rel);
      const name = quoteIdent(rel.name);
      const what = rel.kind === "S" ? "SEQUENCE" : "TABLE";
      const missing = want.filter((p) => !rel.granted.includes(p));
      const extra = rel.granted.filter((p) => !want.includes(p));
      if (extra.length > 0) statements.push(`REVOKE ${extra.join(", ")} ON ${what} ${name} FROM ${target}`);
      if (missing.length > 0) statements.push(`GRANT ${missing.join(", ")} ON ${what} ${name} TO ${target}`);
      // Column grants: only the read-only role's, on a table with private columns.
      const privateColumns = role === readonlyRole ? db.privateColumns[rel.name] : undefined;
      const readable = privateColumns ? rel.columns.filter((c) => !privateColumns.includes(c)) : [];
      // (Revoking a table-level SELECT also revokes the role's column grants on it.)
      const kept = extra.includes("SELECT") ? [] : rel.readableColumns;
      const grantColumns = readable.filter((c) => !kept.includes(c));
      const revokeColumns = kept.filter((c) => !readable.includes(c));
      if (revokeColumns.length > 0) statements.push(`REVOKE SELECT (${revokeColumns.map(quoteIdent).join(", ")}) ON TABLE ${name} FROM ${target}`);
      if (grantColumns.length > 0) statements.push(`GRANT SELECT (${grantColumns.map(quoteIdent).join(", ")}) ON TABLE ${name} TO ${target}`);
    }
  }
  statements.push(...(await missingDefaultPrivileges(client, db.service, "r", DML, "TABLES")));
  statements.push(...(await missingDefaultPrivileges(client, db.service, "S", ["USAGE"], "SEQUENCES")));
  statements.push(...(await missingDefaultPrivileges(client, readonlyRole, "r", ["SELECT"], "TABLES")));
  if (statements.length === 0) return;
  await inTransaction(client, async () => {
    for (const statement of statements) await client.query(statement);
  });
}

/** The ALTER DEFAULT PRIVILEGES the owner (the session's user) still needs for `role` on new objects of `objectType` in public. */
async function missingDefaultPrivileges(client: Client, role: string, objectType: "r" | "S", privileges: string[], objects: string): Promise<string[]> {
  const { rows } = await client.query<{ granted: string[] }>(
    `SELECT ARRAY(SELECT a.privilege_type FROM pg_default_acl d, aclexplode(d.defaclacl) a
                  WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
                    AND d.defaclnamespace = 'public'::regnamespace AND d.defaclobjtype = $2
                    AND a.grantee = $1::regrole) AS granted`,
    [role, objectType],
  );
  const missing = privileges.filter((p) => !rows[0].granted.includes(p));
  return missing.length === 0 ? [] : [`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ${missing.join(", ")} ON ${objects} TO ${quoteIdent(role)}`];
}

interface RoleAttributes {
  login: boolean;
  replication: boolean;
}

/**
 * Creates or corrects a role. Never superuser, never allowed to create roles or databases.
 * The password is sent as a SCRAM verifier, so the clear text never reaches the server (or its
 * logs), and it is only rewritten when the stored verifier does not match the wanted password.
 */
async function ensureRole(admin: Client, name: string, wanted: RoleAttributes, password: string): Promise<void> {
  const { rows } = await admin.query<{ rolpassword: string | null; rolcanlogin: boolean; rolreplication: boolean; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
    "SELECT rolpassword, rolcanlogin, rolreplication, rolsuper, rolcreaterole, rolcreatedb FROM pg_authid WHERE rolname = $1",
    [name],
  );
  const attributes = [
    wanted.login ? "LOGIN" : "NOLOGIN",
    wanted.replication ? "REPLICATION" : "NOREPLICATION",
    "NOSUPERUSER",
    "NOCREATEROLE",
    "NOCREATEDB",
  ].join(" ");
  if (rows.length === 0) {
    await admin.query(`CREATE ROLE ${quoteIdent(name)} WITH ${attributes} PASSWORD ${quoteLiteral(scramVerifier(password))}`);
    return;
  }
  const role = rows[0];
  if (role.rolcanlogin !== wanted.login || role.rolreplication !== wanted.replication || role.rolsuper || role.rolcreaterole || role.rolcreatedb) {
    await admin.query(`ALTER ROLE ${quoteIdent(name)} WITH ${attributes}`);
  }
  if (!scramMatches(role.rolpassword, password)) {
    await admin.query(`ALTER ROLE ${quoteIdent(name)} WITH PASSWORD ${quoteLiteral(scramVerifier(password))}`);
  }
}

/**
 * pgAdmin's role: reads every table through pg_read_all_data (PostgreSQL 14+), and writes through
 * pg_write_all_data only when granted (adminToolsAccess read-write); owns nothing, makes no DDL.
 * Turned off (no password): kept, without login, so nothing that refers to it breaks.
 */
async function ensureAdminToolsRole(admin: Client, role: string, password: string | undefined, grants: string[]): Promise<void> {
  if (password === undefined) {
    await admin.query(`DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)} AND rolcanlogin) THEN ALTER ROLE ${quoteIdent(role)} NOLOGIN; END IF; END $$`);
    return;
  }
  await ensureRole(admin, role, { login: true, replication: false }, password);
  for (const predefined of ["pg_read_all_data", "pg_write_all_data"]) {
    const { rows } = await admin.query<{ member: boolean }>("SELECT pg_has_role($1, $2, 'MEMBER') AS member", [role, predefined]);
    const wanted = grants.includes(predefined);
    if (wanted && !rows[0].member) await admin.query(`GRANT ${quoteIdent(predefined)} TO ${quoteIdent(role)}`);
    if (!wanted && rows[0].member) await admin.query(`REVOKE ${quoteIdent(predefined)} FROM ${quoteIdent(role)}`);
  }
}

async function ensureDatabase(admin: Client, db: PostgresInitDatabase, readers: string[]): Promise<void> {
  const name = quoteIdent(db.name);
  const { rows } = await admin.query<{ owner: string }>("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1", [db.name]);
  if (rows.length === 0) {
    // CREATE DATABASE cannot run in a transaction; a run killed right after it finds the database next time.
    await admin.query(`CREATE DATABASE ${name} OWNER ${quoteIdent(db.owner)} TEMPLATE template0 ENCODING 'UTF8'`);
  } else if (rows[0].owner !== db.owner) {
    await admin.query(`ALTER DATABASE ${name} OWNER TO ${quoteIdent(db.owner)}`);
  }
  for (const reader of readers) await restrictConnect(admin, db.name, reader);
}

/** Waits for a role the operator makes after the cluster is up (its managed roles come a moment later). */
async function waitForRole(client: Client, role: string, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  while ((await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).rowCount === 0) {
    if (Date.now() > deadline) throw new Error(`the role ${role} does not exist after ${timeoutSeconds}s: is the operator reconciling the Cluster's managed roles? (kubectl get cluster -o jsonpath='{.status.managedRolesStatus}')`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Only the owner, its service role and the reading roles (read-only, admin tools) may connect: other roles of the cluster see nothing here. Changes only what differs. */
async function restrictConnect(client: Client, database: string, role: string): Promise<void> {
  const { rows } = await client.query<{ public_connect: boolean; role_connect: boolean }>(
    // The role's own grant, not one it has through PUBLIC (revoked here).
    `SELECT has_database_privilege('public', oid, 'CONNECT') AS public_connect,
            EXISTS (SELECT 1 FROM aclexplode(datacl) a WHERE a.grantee = $2::regrole AND a.privilege_type = 'CONNECT') AS role_connect
     FROM pg_database WHERE datname = $1`,
    [database, role],
  );
  const name = quoteIdent(database);
  if (rows[0].public_connect) await client.query(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
  if (!rows[0].role_connect) await client.query(`GRANT CONNECT ON DATABASE ${name} TO ${quoteIdent(role)}`);
}

async function takeSessionLock(client: Client, lock: string, timeoutSeconds: number): Promise<void> {
  await client.query(`SET lock_timeout = '${Math.max(1, Math.floor(timeoutSeconds))}s'`);
  try {
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [lock]);
  } catch (error) {
    if ((error as { code?: string }).code === "55P03") {
      throw new Error(`another init run has held the lock "${lock}" for over ${timeoutSeconds}s; is a \`pulumi up\` still running?`);
    }
    throw error;
  }
  await client.query("SET lock_timeout = 0");
}

async function inTransaction(client: Client, work: () => Promise<void>): Promise<void> {
  await client.query("BEGIN");
  try {
    await work();
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** SCRAM-SHA-256 verifier as PostgreSQL stores it: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. */
export function scramVerifier(password: string, salt?: Buffer, iterations = 4096): string {
  const crypto = require("crypto") as typeof import("crypto");
  const saltBytes = salt ?? crypto.randomBytes(16);
  const salted = crypto.pbkdf2Sync(password.normalize("NFKC"), saltBytes, iterations, 32, "sha256");
  const clientKey = crypto.createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = crypto.createHash("sha256").update(clientKey).digest();
  const serverKey = crypto.createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${saltBytes.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Whether a stored verifier was made from this password (recomputed with its own salt and iterations). */
export function scramMatches(stored: string | null, password: string): boolean {
  const match = stored?.match(/^SCRAM-SHA-256\$(\d+):([^$]+)\$[^:]+:.+$/);
  if (!match || !stored) return false;
  return scramVerifier(password, Buffer.from(match[2], "base64"), Number(match[1])) === stored;
}
