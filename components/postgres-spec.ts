// Pure builders for the PostgreSQL containers: names, server settings, pg_hba, healthchecks and
// connection strings. No Pulumi here, so every rule is unit-tested directly.
import type { PostgresConfig } from "./config";
import { shellCommand, type Endpoint, type ReadyCheck, type ServerSpec } from "./server-spec";
import { TLS_PATHS, tlsSecretFiles } from "./tls";

export type { Endpoint };

/** The port PostgreSQL listens on inside its container (and inside the Docker networks). */
export const POSTGRES_CONTAINER_PORT = 5432;

/** The most streaming replicas `postgresReplicas` allows. */
export const POSTGRES_MAX_REPLICAS = 5;

/** Cluster-wide roles. Owner roles are per database (see POSTGRES_DATABASES). */
export const POSTGRES_ROLES = {
  superuser: "postgres",
  replication: "replicator",
  readonly: "trading_readonly",
  /** Kubernetes (CloudNativePG): member of pg_monitor, for `npm run verify` and operators. */
  monitor: "trading_monitor",
  /** Docker: pgAdmin's login, a member of pg_read_all_data (never the superuser, which logs in from no container). */
  adminTools: "trading_admin_tools",
} as const;

export interface PostgresDatabase {
  /** Database name fixed by the seeds. */
  name: string;
  /**
   * Role that owns the database and its schema and runs the migrations: the hooks' and operators'
   * login (from the host or inside the server only), never a service's.
   */
  owner: string;
  /** What the services connect as: DML on the tables (none on schema_migrations), USAGE on the sequences, no DDL. */
  service: string;
  /** Columns the read-only role may not read, per table (it reads every other column of them). */
  privateColumns: Readonly<Record<string, readonly string[]>>;
  /** Folder under init/postgres holding migrations/ and seeds/. */
  folder: string;
}

export const POSTGRES_DATABASES: readonly PostgresDatabase[] = [
  // Seed 000 (advanced trading platform): trades, positions, strategies, users.
  { name: "trading_platform", owner: "trading_platform_owner", service: "trading_platform_app", privateColumns: { users: ["password_hash"] }, folder: "trading_platform" },
  // Seed 002 (trading simulation): simulation_runs, trades, positions.
  { name: "trading_results", owner: "trading_results_owner", service: "trading_results_app", privateColumns: {}, folder: "trading_results" },
];

/** Paths inside the containers. */
export const POSTGRES_PATHS = {
  /** The volume is mounted here; the data directory is a versioned folder below it (as postgres:18 does). */
  volumeMount: "/var/lib/postgresql",
  /** The rules as uploaded, with the two addresses init/scripts/postgres-hba.sh fills in at start. */
  hbaTemplate: "/etc/trading-db-stack/pg_hba.conf.template",
  /** The rules the server reads (hba_file), written at every start. */
  hbaFile: "/var/run/postgresql/pg_hba.conf",
  hbaScript: "/usr/local/bin/trading-postgres-hba.sh",
  superuserPasswordFile: "/run/secrets/postgres-password",
  replicationPasswordFile: "/run/secrets/replication-password",
  replicationPassfile: "/var/run/postgresql/replication.pgpass",
  replicaEntrypoint: "/usr/local/bin/trading-replica-entrypoint.sh",
  /** Applies the declared superuser password to a retained cluster, then runs the image's entrypoint. */
  primaryEntrypoint: "/usr/local/bin/trading-primary-entrypoint.sh",
} as const;

/** Data directory for a major version: /var/lib/postgresql/18/docker. A new major never reuses old files. */
export function dataDirectory(majorVersion: number): string {
  return `${POSTGRES_PATHS.volumeMount}/${majorVersion}/docker`;
}

export interface PostgresNames {
  primaryContainer: string;
  /** DNS name of the primary on both Docker networks (seed 000: postgres:5432). */
  primaryHost: string;
  /** The primary's name on the internal network only: the replicas stream from there, where pg_hba admits replication. */
  primaryInternalHost: string;
  primaryVolume: string;
  replicaContainer(n: number): string;
  replicaHost(n: number): string;
  replicaVolume(n: number): string;
  /** Physical replication slot of replica n on the primary. */
  replicaSlot(n: number): string;
}

export function postgresNames(prefix: string): PostgresNames {
  return {
    primaryContainer: `${prefix}-postgres`,
    primaryHost: "postgres",
    primaryInternalHost: "postgres-internal",
    primaryVolume: `${prefix}_postgres_data`,
    replicaContainer: (n) => `${prefix}-postgres-replica-${n}`,
    replicaHost: (n) => `postgres-replica-${n}`,
    replicaVolume: (n) => `${prefix}_postgres_replica_${n}_data`,
    replicaSlot: (n) => `${prefix}_replica_${n}`,
  };
}

/** shared_buffers in MiB: a quarter of the memory limit (config.ts counts it when it checks max_connections). */
export function sharedBuffersMb(memoryMb: number): number {
  return Math.max(32, Math.floor(memoryMb / 4));
}

/**
 * Server settings shared by the primary and the replicas. A hot standby refuses to start when
 * max_connections, max_wal_senders and friends are lower than on its primary, so both get the same.
 */
export function serverSettings(pg: PostgresConfig): Record<string, string> {
  return {
    hba_file: POSTGRES_PATHS.hbaFile,
    listen_addresses: "*",
    password_encryption: "scram-sha-256",
    max_connections: String(pg.maxConnections),
    shared_buffers: `${sharedBuffersMb(pg.memoryMb)}MB`,
    effective_cache_size: `${Math.floor((pg.memoryMb * 3) / 4)}MB`,
    wal_level: "replica",
    // Room for the most replicas the config allows, plus base backups and one spare each: fixed, so
    // a change of the replica count never restarts the primary.
    max_wal_senders: String(2 * POSTGRES_MAX_REPLICAS + 4),
    max_replication_slots: String(2 * POSTGRES_MAX_REPLICAS + 4),
    max_slot_wal_keep_size: `${pg.maxSlotWalKeepMb}MB`,
    hot_standby: "on",
    hot_standby_feedback: "on",
  };
}

/** With TLS (Docker): the server's certificate and key, TLS 1.2 at least. */
export function tlsSettings(): Record<string, string> {
  return { ssl: "on", ssl_cert_file: TLS_PATHS.certificate, ssl_key_file: TLS_PATHS.key, ssl_min_protocol_version: "TLSv1.2" };
}

/** The container command: postgres with each setting as -c name=value. */
export function postgresCommand(settings: Record<string, string>): string[] {
  const command = ["postgres"];
  for (const [name, value] of Object.entries(settings)) command.push("-c", `${name}=${value}`);
  return command;
}

/**
 * pg_hba.conf for the primary and the replicas, as a template: init/scripts/postgres-hba.sh puts in
 * the host's address on the app network (@HOST_GATEWAY@, where connections to the 127.0.0.1
 * published port come from) and the internal network's subnet (@DB_NETWORK@). The superuser and
 * the databases' owners log in from inside the server (socket, loopback) and from the host only
 * (where the hooks and operators run), never from a container; only the replication role streams
 * WAL, and only from the internal network the stack's own containers share; every other network
 * client needs its SCRAM password. With `tls`, a network connection without TLS is refused first,
 * replication included: every rule after it then holds for TLS connections only.
 */
export function pgHbaTemplate(tls = false): string {
  const rule = (type: string, database: string, user: string, address: string, method: string) =>
    `${type.padEnd(7)} ${database.padEnd(12)} ${user.padEnd(12)} ${address.padEnd(16)} ${method}`.trimEnd();
  const { superuser, replication } = POSTGRES_ROLES;
  const hostOnly = [superuser, ...POSTGRES_DATABASES.map((db) => db.owner)].join(",");
  return [
    "# Managed by trading-db-stack (components/postgres-spec.ts); written again at every start.",
    rule("# TYPE", "DATABASE", "USER", "ADDRESS", "METHOD"),
    rule("local", "all", superuser, "", "peer"),
    rule("local", "all", "all", "", "scram-sha-256"),
    ...(tls ? [rule("hostnossl", "all", "all", "all", "reject"), rule("hostnossl", "replication", "all", "all", "reject")] : []),
    rule("host", "all", hostOnly, "127.0.0.1/32", "scram-sha-256"),
    rule("host", "all", hostOnly, "::1/128", "scram-sha-256"),
    rule("host", "all", hostOnly, "@HOST_GATEWAY@", "scram-sha-256"),
    rule("host", "all", hostOnly, "all", "reject"),
    rule("host", "replication", replication, "@DB_NETWORK@", "scram-sha-256"),
    rule("host", "replication", "all", "all", "reject"),
    rule("host", "all", "all", "all", "scram-sha-256"),
    "",
  ].join("\n");
}

/** Where pg_hba.conf comes from at start (read by init/scripts/postgres-hba.sh). */
function hbaEnv(): Record<string, string> {
  return { HBA_TEMPLATE: POSTGRES_PATHS.hbaTemplate, HBA_FILE: POSTGRES_PATHS.hbaFile, HBA_SCRIPT: POSTGRES_PATHS.hbaScript };
}

/**
 * Ready only when the real server accepts TCP connections: the entrypoint's init-phase server
 * listens on no TCP port, and a replica is not up until its base backup is done and it is in hot standby.
 */
export function postgresReadyCheck(): ReadyCheck {
  return { command: shellCommand(["pg_isready", "-q", "-h", "127.0.0.1", "-p", String(POSTGRES_CONTAINER_PORT), "-U", POSTGRES_ROLES.superuser]), timeoutSeconds: 5 };
}

/** Environment of the primary: the image creates the superuser from the password file on first start. */
export function primaryEnv(pg: PostgresConfig): Record<string, string> {
  return {
    PGDATA: dataDirectory(pg.majorVersion),
    POSTGRES_USER: POSTGRES_ROLES.superuser,
    POSTGRES_PASSWORD_FILE: POSTGRES_PATHS.superuserPasswordFile,
    POSTGRES_INITDB_ARGS: "--auth-local=peer --auth-host=scram-sha-256 --data-checksums",
    ...hbaEnv(),
  };
}

/**
 * Environment read by init/scripts/postgres-replica-entrypoint.sh. Nothing here follows a setting
 * that other resources use too, so such a change never restarts a replica.
 */
export function replicaEnv(pg: PostgresConfig, primaryHost: string, slot: string, tls = false): Record<string, string> {
  return {
    // With TLS the replica streams over it, verifying the primary's certificate against the stack's CA.
    ...(tls ? { PRIMARY_SSLROOTCERT: TLS_PATHS.ca } : {}),
    PGDATA: dataDirectory(pg.majorVersion),
    PRIMARY_HOST: primaryHost,
    PRIMARY_PORT: String(POSTGRES_CONTAINER_PORT),
    REPLICATION_USER: POSTGRES_ROLES.replication,
    REPLICATION_PASSWORD_FILE: POSTGRES_PATHS.replicationPasswordFile,
    REPLICATION_PASSFILE: POSTGRES_PATHS.replicationPassfile,
    REPLICATION_SLOT: slot,
    ...hbaEnv(),
  };
}

/** uid/gid of the `postgres` user in the official image. */
export const POSTGRES_IMAGE_UID = 999;

/** What primary and replicas share: image, settings, resources, the data volume, a graceful stop. */
function postgresServer(pg: PostgresConfig, service: string, role: string, tls: boolean) {
  return {
    service,
    role,
    image: pg.image,
    command: postgresCommand({ ...serverSettings(pg), ...(tls ? tlsSettings() : {}) }),
    port: { name: "postgres", number: POSTGRES_CONTAINER_PORT },
    ready: postgresReadyCheck(),
    volumes: [{ key: "data", path: POSTGRES_PATHS.volumeMount }],
    user: { uid: POSTGRES_IMAGE_UID, gid: POSTGRES_IMAGE_UID },
    resources: { memoryMb: pg.memoryMb, cpus: pg.cpus },
    dockerLimits: { memory: true, cpus: true },
    // A stop that is not a SIGKILL: no crash recovery on every replace.
    stopGraceSeconds: 60,
    // Docker's 64 MiB /dev/shm is too small for parallel queries.
    shmSizeMb: Math.min(1024, Math.max(128, Math.floor(pg.memoryMb / 4))),
  };
}

/** The hba template and the script that writes pg_hba.conf from it. */
function hbaFiles(hbaScript: string, tls: boolean) {
  return [
    { path: POSTGRES_PATHS.hbaTemplate, content: pgHbaTemplate(tls) },
    { path: POSTGRES_PATHS.hbaScript, content: hbaScript, executable: true },
  ];
}

/** The primary: the wrapper applies the declared superuser password to kept data, then the image's entrypoint runs. */
export function primarySpec(pg: PostgresConfig, service: string, internalAlias: string, primaryEntrypoint: string, hbaScript: string, tls = false): ServerSpec {
  return {
    ...postgresServer(pg, service, "primary", tls),
    internalAlias,
    // Crash recovery of a large cluster after an unclean stop.
    startSeconds: 3600,
    entrypoint: [POSTGRES_PATHS.primaryEntrypoint],
    env: primaryEnv(pg),
    files: [
      ...hbaFiles(hbaScript, tls),
      { path: POSTGRES_PATHS.primaryEntrypoint, content: primaryEntrypoint, executable: true },
    ],
    secretFiles: [{ path: POSTGRES_PATHS.superuserPasswordFile, credential: "superuser" }, ...(tls ? tlsSecretFiles() : [])],
  };
}

/** Replica n: base backup from the primary through its slot, then streaming (init/scripts/postgres-replica-entrypoint.sh). */
export function replicaSpec(pg: PostgresConfig, service: string, n: number, primaryHost: string, slot: string, replicaEntrypoint: string, hbaScript: string, tls = false): ServerSpec {
  return {
    ...postgresServer(pg, service, `replica-${n}`, tls),
    // A first start copies the whole primary (pg_basebackup) before it answers: never cut that short.
    startSeconds: 86400,
    entrypoint: [POSTGRES_PATHS.replicaEntrypoint],
    env: replicaEnv(pg, primaryHost, slot, tls),
    files: [
      ...hbaFiles(hbaScript, tls),
      { path: POSTGRES_PATHS.replicaEntrypoint, content: replicaEntrypoint, executable: true },
    ],
    secretFiles: [{ path: POSTGRES_PATHS.replicationPasswordFile, credential: "replication" }, ...(tls ? tlsSecretFiles() : [])],
  };
}

/** How clients verify the server: the CA file they read, when the stack runs TLS. */
export interface ClientTls {
  caFile: string;
}

/**
 * A URI; user and password are percent-encoded. With TLS a libpq URI verifies the server's
 * certificate and name (sslmode=verify-full) against the CA file; SQLAlchemy's asyncpg dialect
 * takes `ssl=verify-full` instead, and the CA from PGSSLROOTCERT (the env maps set it).
 */
export function postgresUri(
  scheme: "postgresql" | "postgresql+asyncpg",
  user: string,
  password: string,
  endpoint: Endpoint,
  database: string,
  tls?: ClientTls,
): string {
  const query = !tls ? "" : scheme === "postgresql" ? `?sslmode=verify-full&sslrootcert=${tls.caFile}` : "?ssl=verify-full";
  return `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${endpoint.host}:${endpoint.port}/${database}${query}`;
}

/** libpq's (and asyncpg's) variables for a verified TLS connection, when the stack runs TLS. */
function tlsEnv(tls: ClientTls | undefined): Record<string, string> {
  return tls ? { PGSSLMODE: "verify-full", PGSSLROOTCERT: tls.caFile } : {};
}

/** Seed 000's variables (advanced trading platform, SQLAlchemy with asyncpg). */
export function advancedTradingPlatformPostgresEnv(user: string, password: string, endpoint: Endpoint, tls?: ClientTls): Record<string, string> {
  return { DATABASE_URL: postgresUri("postgresql+asyncpg", user, password, endpoint, "trading_platform", tls), ...tlsEnv(tls) };
}

/** Seed 002's variables (trading simulation). */
export function tradingSimulationPostgresEnv(user: string, password: string, endpoint: Endpoint, tls?: ClientTls): Record<string, string> {
  return {
    POSTGRES_HOST: endpoint.host,
    POSTGRES_PORT: String(endpoint.port),
    POSTGRES_DB: "trading_results",
    POSTGRES_USER: user,
    POSTGRES_PASSWORD: password,
    ...tlsEnv(tls),
  };
}
