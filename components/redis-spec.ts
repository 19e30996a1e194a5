// Pure builders for Redis: names, redis.conf, the ACL file, healthcheck and REDIS_URL.
import type { RedisConfig } from "./config";
import type { Endpoint, ReadyCheck, ServerSpec } from "./server-spec";
import { TLS_PATHS, tlsSecretFiles } from "./tls";
import type { ClientTls } from "./postgres-spec";

export const REDIS_CONTAINER_PORT = 6379;

export const REDIS_USERS = {
  /** Full access; used by the init hook and for operations. */
  admin: "admin",
  /** What the services connect as: the seed's key patterns only. */
  app: "trading_app",
  /** May only PING; the container healthcheck logs in as it. */
  healthcheck: "healthcheck",
} as const;

/** Seed 000's key patterns: the only keys the app user may touch. */
export const REDIS_APP_KEY_PATTERNS = ["config:*", "exchanges:*", "session:*", "price:*", "system:*"] as const;

export const REDIS_PATHS = {
  config: "/usr/local/etc/redis/redis.conf",
  aclFile: "/usr/local/etc/redis/users.acl",
  healthcheckPasswordFile: "/run/secrets/redis-healthcheck-password",
  data: "/data",
} as const;

export function redisNames(prefix: string): { container: string; host: string; volume: string } {
  return { container: `${prefix}-redis`, host: "redis", volume: `${prefix}_redis_data` };
}

/**
 * With `tls`: the TLS port only, on the usual port number (no clear port at all), TLS 1.2 or 1.3;
 * clients show no certificate of their own (they log in with their passwords).
 */
function redisTlsConf(): string[] {
  return [
    "port 0",
    `tls-port ${REDIS_CONTAINER_PORT}`,
    `tls-cert-file ${TLS_PATHS.certificate}`,
    `tls-key-file ${TLS_PATHS.key}`,
    `tls-ca-cert-file ${TLS_PATHS.ca}`,
    "tls-auth-clients no",
    'tls-protocols "TLSv1.2 TLSv1.3"',
  ];
}

/** redis.conf: ACL users from the ACL file, AOF persistence on the volume, maxmemory and eviction from config. */
export function redisConf(redis: RedisConfig, tls = false): string {
  return [
    "# Managed by trading-db-stack (components/redis-spec.ts); replaced on every `pulumi up`.",
    "bind * -::*",
    ...(tls ? redisTlsConf() : [`port ${REDIS_CONTAINER_PORT}`]),
    "protected-mode yes",
    `aclfile ${REDIS_PATHS.aclFile}`,
    `dir ${REDIS_PATHS.data}`,
    "appendonly yes",
    "appendfsync everysec",
    // RDB snapshots too: a fast restart and a file for backups.
    "save 3600 1 300 100 60 10000",
    `maxmemory ${redis.maxMemoryMb}mb`,
    `maxmemory-policy ${redis.maxMemoryPolicy}`,
    "",
  ].join("\n");
}

/** Passwords as SHA-256 hex, the form an ACL file accepts (`#<hash>`): the file holds no plaintext. */
export interface RedisPasswordHashes {
  admin: string;
  app: string;
  healthcheck: string;
}

/** Commands of the app user's categories that reach beyond its own keys in database 0 (see redisAclFile). */
export const REDIS_APP_REFUSED = ["scan", "randomkey", "dbsize", "select", "move", "swapdb", "copy"] as const;

/**
 * The ACL file. `default` is switched off, so a connection that does not log in can do nothing.
 * The app user may read and write its key patterns only; dangerous commands (FLUSHALL, KEYS,
 * CONFIG, DEBUG...) are refused even there. So are the commands that reach past its keys: SCAN
 * and RANDOMKEY name keys of any pattern (they take no key, so the patterns do not limit them),
 * SELECT, MOVE, SWAPDB and COPY reach other databases, DBSIZE counts everyone's keys.
 */
export function redisAclFile(hashes: RedisPasswordHashes): string {
  const appKeys = REDIS_APP_KEY_PATTERNS.map((p) => `~${p}`).join(" ");
  return [
    "user default off resetpass resetkeys resetchannels -@all",
    `user ${REDIS_USERS.admin} on #${hashes.admin} ~* &* +@all`,
    `user ${REDIS_USERS.app} on #${hashes.app} resetkeys ${appKeys} resetchannels -@all +@read +@write +@keyspace +@connection +@transaction -@dangerous ${REDIS_APP_REFUSED.map((c) => `-${c}`).join(" ")}`,
    `user ${REDIS_USERS.healthcheck} on #${hashes.healthcheck} resetkeys resetchannels -@all +ping`,
    "",
  ].join("\n");
}

/** The container's memory limit: room for a fork during AOF rewrite, plus the server itself. */
export function redisContainerMemoryMb(redis: RedisConfig): number {
  return 2 * redis.maxMemoryMb + 64;
}

/** Ready only when a login works and PING answers: proves the ACL file loaded, not just the port. */
export function redisReadyCheck(tls = false): ReadyCheck {
  return { command: `${redisPing(tls)} | grep -qx PONG`, timeoutSeconds: 5 };
}

/** Alive: the server answers PING, with PONG or, while it loads its AOF, LOADING. */
export function redisAliveCheck(tls = false): ReadyCheck {
  return { command: `${redisPing(tls)} | grep -qE '^(PONG|LOADING)'`, timeoutSeconds: 5 };
}

/** PING as the healthcheck user (PING is all it may run); the password from its file, not argv; over TLS, verifying the server, with `tls`. */
function redisPing(tls: boolean): string {
  const overTls = tls ? ` --tls --cacert ${TLS_PATHS.ca}` : "";
  return `REDISCLI_AUTH="$(cat ${REDIS_PATHS.healthcheckPasswordFile})" redis-cli --no-auth-warning${overTls} --user ${REDIS_USERS.healthcheck} -h 127.0.0.1 -p ${REDIS_CONTAINER_PORT} ping`;
}

/** uid/gid of the `redis` user in the official image. */
export const REDIS_IMAGE_UID = 999;

/** The server: ACL users from the ACL file (secret "acl"), AOF on its volume. */
export function redisSpec(redis: RedisConfig, service: string, tls = false): ServerSpec {
  return {
    service,
    role: "redis",
    image: redis.image,
    command: ["redis-server", REDIS_PATHS.config],
    env: {},
    files: [{ path: REDIS_PATHS.config, content: redisConf(redis, tls) }],
    secretFiles: [
      // Hashes only, but they still let anyone try passwords offline: kept secret.
      { path: REDIS_PATHS.aclFile, credential: "acl" },
      { path: REDIS_PATHS.healthcheckPasswordFile, credential: "healthcheck" },
      ...(tls ? tlsSecretFiles() : []),
    ],
    port: { name: "redis", number: REDIS_CONTAINER_PORT },
    ready: redisReadyCheck(tls),
    alive: redisAliveCheck(tls),
    volumes: [{ key: "data", path: REDIS_PATHS.data }],
    user: { uid: REDIS_IMAGE_UID, gid: REDIS_IMAGE_UID },
    resources: { memoryMb: redisContainerMemoryMb(redis), cpus: redis.cpus },
    dockerLimits: { memory: true, cpus: false },
    // Time to finish the AOF fsync and write the RDB snapshot on shutdown.
    stopGraceSeconds: 30,
  };
}

/**
 * REDIS_URL. With TLS `rediss://`, and redis-py's query arguments that verify the server's
 * certificate against the CA file and its name (an unknown argument is ignored by other clients).
 */
export function redisUrl(user: string, password: string, endpoint: Endpoint, tls?: ClientTls): string {
  const base = `${tls ? "rediss" : "redis"}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${endpoint.host}:${endpoint.port}/0`;
  return tls ? `${base}?ssl_cert_reqs=required&ssl_ca_certs=${tls.caFile}&ssl_check_hostname=true` : base;
}
