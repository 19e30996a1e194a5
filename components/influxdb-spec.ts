// Pure builders for InfluxDB 2: names, setup-mode environment, healthcheck, the buckets of seed 000
// with their retention, the downsampling task and the services' token scopes.
import type { InfluxdbConfig } from "./config";
import type { ClientTls } from "./postgres-spec";
import { shellCommand, type Endpoint, type ReadyCheck, type ServerSpec } from "./server-spec";
import { TLS_PATHS, tlsSecretFiles } from "./tls";

export const INFLUXDB_CONTAINER_PORT = 8086;
/** Seed 000's organisation, primary bucket and admin user. */
export const INFLUXDB_ORG = "trading-platform";
export const INFLUXDB_PRIMARY_BUCKET = "market-data";
export const INFLUXDB_ADMIN_USER = "admin";

export const INFLUXDB_PATHS = {
  data: "/var/lib/influxdb2",
  config: "/etc/influxdb2",
  adminPasswordFile: "/run/secrets/influxdb-admin-password",
  entrypoint: "/usr/local/bin/trading-influxdb-entrypoint.sh",
} as const;

export function influxdbNames(prefix: string): { container: string; host: string; dataVolume: string; configVolume: string } {
  return { container: `${prefix}-influxdb`, host: "influxdb", dataVolume: `${prefix}_influxdb_data`, configVolume: `${prefix}_influxdb_config` };
}

export interface InfluxBucketSpec {
  name: string;
  description: string;
  /** 0 = keep forever. */
  retentionSeconds: number;
}

export const DOWNSAMPLED_BUCKET = "market-data-1h";
const DAY_SECONDS = 86400;

/** One bucket per measurement of seed 000 (market_data lives in the setup bucket), and the hourly rollup. */
export function influxBuckets(influx: InfluxdbConfig): InfluxBucketSpec[] {
  const raw = influx.retentionDays * DAY_SECONDS;
  return [
    { name: INFLUXDB_PRIMARY_BUCKET, description: "market_data: price and volume", retentionSeconds: raw },
    { name: "trades", description: "trades: trade execution metrics", retentionSeconds: raw },
    { name: "performance", description: "performance: strategy performance metrics", retentionSeconds: raw },
    { name: "system-metrics", description: "system_metrics: system health metrics", retentionSeconds: raw },
    { name: DOWNSAMPLED_BUCKET, description: "market_data rolled up per hour by the downsample task", retentionSeconds: influx.downsampledRetentionDays * DAY_SECONDS },
  ];
}

export const DOWNSAMPLE_TASK = "downsample-market-data-1h";

/**
 * The downsampling task: every hour, the last hour of numeric market_data fields, volume summed
 * and every other field averaged, written to the rollup bucket.
 */
export function downsampleFlux(): string {
  return [
    'import "types"',
    "",
    `option task = {name: "${DOWNSAMPLE_TASK}", every: 1h, offset: 5m}`,
    "",
    `data = from(bucket: "${INFLUXDB_PRIMARY_BUCKET}")`,
    "    |> range(start: -task.every)",
    '    |> filter(fn: (r) => r._measurement == "market_data" and types.isNumeric(v: r._value))',
    "",
    "data",
    '    |> filter(fn: (r) => r._field != "volume")',
    "    |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)",
    `    |> to(bucket: "${DOWNSAMPLED_BUCKET}", org: "${INFLUXDB_ORG}")`,
    "",
    "data",
    '    |> filter(fn: (r) => r._field == "volume")',
    "    |> aggregateWindow(every: 1h, fn: sum, createEmpty: false)",
    `    |> to(bucket: "${DOWNSAMPLED_BUCKET}", org: "${INFLUXDB_ORG}")`,
    "",
  ].join("\n");
}

export interface InfluxTokenSpec {
  /** The authorization's description: how the hook finds it again on a re-run. */
  description: string;
  /** Actions granted on every stack bucket. */
  actions: Array<"read" | "write">;
}

export const INFLUXDB_TOKENS = {
  read: { description: "trading-db-stack: services, read buckets", actions: ["read"] },
  write: { description: "trading-db-stack: services, read and write buckets", actions: ["read", "write"] },
} as const satisfies Record<string, InfluxTokenSpec>;

/**
 * No setup mode (DOCKER_INFLUXDB_INIT_*): the image's would pass the password and the operator
 * token to `influx setup` on a command line and leave the token in clear in the CLI config on the
 * config volume. The init hook sets a new server up through the API instead. The wrapper reads the
 * admin's name and password file to apply a declared password to a kept bolt file.
 */
export function influxdbEnv(tls = false): Record<string, string> {
  return {
    INFLUXDB_ADMIN_USER: INFLUXDB_ADMIN_USER,
    INFLUXDB_ADMIN_PASSWORD_FILE: INFLUXDB_PATHS.adminPasswordFile,
    // No usage statistics sent to InfluxData.
    INFLUXD_REPORTING_DISABLED: "true",
    // With `tls`: https only on 8086 (influxd has no clear listener beside it), TLS 1.2 or newer.
    ...(tls ? { INFLUXD_TLS_CERT: TLS_PATHS.certificate, INFLUXD_TLS_KEY: TLS_PATHS.key, INFLUXD_TLS_MIN_VERSION: "1.2" } : {}),
  };
}

/**
 * `influx ping` checks /health on 8086, which a new server answers before it is set up. Over
 * https the CLI verifies the server against the stack's CA: it has no CA flag, and takes Go's
 * SSL_CERT_FILE as its trust store.
 */
export function influxdbReadyCheck(tls = false): ReadyCheck {
  const ping = shellCommand(["influx", "ping", "--host", `${tls ? "https" : "http"}://127.0.0.1:${INFLUXDB_CONTAINER_PORT}`]);
  return { command: tls ? `SSL_CERT_FILE=${TLS_PATHS.ca} ${ping}` : ping, timeoutSeconds: 5 };
}

/** uid/gid of the `influxdb` user in the official image. */
export const INFLUXDB_IMAGE_UID = 1000;

/** The server; the wrapper applies the declared admin password to a kept bolt file, then the image's entrypoint runs (no setup mode: the hook onboards). */
export function influxdbSpec(influx: InfluxdbConfig, service: string, entrypoint: string, tls = false): ServerSpec {
  return {
    service,
    role: "influxdb",
    image: influx.image,
    entrypoint: [INFLUXDB_PATHS.entrypoint],
    command: ["influxd"],
    env: influxdbEnv(tls),
    files: [{ path: INFLUXDB_PATHS.entrypoint, content: entrypoint, executable: true }],
    secretFiles: [{ path: INFLUXDB_PATHS.adminPasswordFile, credential: "adminPassword" }, ...(tls ? tlsSecretFiles() : [])],
    port: { name: "http", number: INFLUXDB_CONTAINER_PORT },
    ready: influxdbReadyCheck(tls),
    volumes: [
      { key: "data", path: INFLUXDB_PATHS.data },
      { key: "config", path: INFLUXDB_PATHS.config, sizeGb: 1 },
    ],
    user: { uid: INFLUXDB_IMAGE_UID, gid: INFLUXDB_IMAGE_UID },
    resources: { memoryMb: influx.memoryMb, cpus: influx.cpus },
    dockerLimits: { memory: false, cpus: false },
    stopGraceSeconds: 30,
  };
}

/** With TLS `https://`: clients verify the server against the stack's CA (the env's INFLUXDB_SSL_CA_CERT). */
export function influxdbUrl(endpoint: Endpoint, tls = false): string {
  return `${tls ? "https" : "http"}://${endpoint.host}:${endpoint.port}`;
}

/**
 * Seed 000's variables (advanced trading platform). With TLS also INFLUXDB_SSL_CA_CERT, the CA
 * file for the Python client's `ssl_ca_cert` (its env-configured form reads INFLUXDB_V2_SSL_CA_CERT).
 */
export function advancedTradingPlatformInfluxEnv(endpoint: Endpoint, token: string, tls?: ClientTls): Record<string, string> {
  return {
    INFLUXDB_URL: influxdbUrl(endpoint, tls !== undefined),
    INFLUXDB_TOKEN: token,
    INFLUXDB_ORG: INFLUXDB_ORG,
    INFLUXDB_BUCKET: INFLUXDB_PRIMARY_BUCKET,
    ...(tls ? { INFLUXDB_SSL_CA_CERT: tls.caFile } : {}),
  };
}
