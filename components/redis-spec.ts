// Pure builders for Redis: names, redis.conf, the ACL file, healthcheck and REDIS_URL.
import type { RedisConfig } from "./config";
import type { Endpoint, ReadyCheck, ServerSpec } from "./server-spec";

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

/** redis.conf: ACL users from the ACL file, AOF persistence on the volume, maxmemory and eviction from config. */
export function redisConf(redis: RedisConfig): string {
  return [
    "# Managed by trading-db-stack (components/redis-spec.ts); replaced on every `pulumi up`.",
    "bind * -::*",
    `port ${REDIS_CONTAINER_PORT}`,
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
export function redisReadyCheck(): ReadyCheck {
  return { command: `${redisPing()} | grep -qx PONG`, timeoutSeconds: 5 };
}

/** Alive: the server answers PING, with PONG or, while it loads its AOF, LOADING. */
export function redisAliveCheck(): ReadyCheck {
  return { command: `${redisPing()} | grep -qE '^(PONG|LOADING)'`, timeoutSeconds: 5 };
}

/** PING as the healthcheck user (PING is all it may run); the password from its file, not argv. */
function redisPing(): string {
  return `REDISCLI_AUTH="$(cat ${REDIS_PATHS.healthcheckPasswordFile})" redis-cli --no-auth-warning --user ${REDIS_USERS.healthcheck} -h 127.0.0.1 -p ${REDIS_CONTAINER_PORT} ping`;
}

/** uid/gid of the `redis` user in the official image. */
export const REDIS_IMAGE_UID = 999;

/** The server: ACL users from the ACL file (secret "acl"), AOF on its volume. */
export function redisSpec(redis: RedisConfig, service: string): ServerSpec {
  return {
    service,
    role: "redis",
    image: redis.image,
    command: ["redis-server", REDIS_PATHS.config],
    env: {},
    files: [{ path: REDIS_PATHS.config, content: redisConf(redis) }],
    secretFiles: [
      // Hashes only, but they still let anyone try passwords offline: kept secret.
      { path: REDIS_PATHS.aclFile, credential: "acl" },
      { path: REDIS_PATHS.healthcheckPasswordFile, credential: "healthcheck" },
    ],
    port: { name: "redis", number: REDIS_CONTAINER_PORT },
    ready: redisReadyCheck(),
    alive: redisAliveCheck(),
    volumes: [{ key: "data", path: REDIS_PATHS.data }],
    user: { uid: REDIS_IMAGE_UID, gid: REDIS_IMAGE_UID },
    resources: { memoryMb: redisContainerMemoryMb(redis), cpus: redis.cpus },
    dockerLimits: { memory: true, cpus: false },
    // Time to finish the AOF fsync and write the RDB snapshot on shutdown.
    stopGraceSeconds: 30,
  };
}

export function redisUrl(user: string, password: string, endpoint: Endpoint): string {
  return `redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${endpoint.host}:${endpoint.port}/0`;
}
