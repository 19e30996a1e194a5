// The Redis init hook: seeds keys where they are absent, as the admin user. Runs inside the
// serialised dynamic provider (see init/hook.ts): ioredis is required inside the function.
// SET NX is atomic per key, so a re-run, or a run racing a service that wrote the key first,
// never overwrites a value.
import { withAccess, type KubernetesTarget, type OpenedAccess, type ServerAccess } from "../access";
import type { RedisSeedKey } from "./files";

export interface RedisInitInputs extends Record<string, unknown> {
  /** sha256 of the hook's serialised code (init/hook-resource.ts): a code change re-runs the hook. */
  hookVersion: string;
  host: string;
  port: number;
  /** Under Kubernetes: the server's pod, reached through a port-forward to `port` (init/access.ts). */
  kubernetes?: KubernetesTarget;
  user: string;
  password: string;
  /** With TLS: the stack's CA (PEM); the connection verifies the server's certificate and address against it. */
  tlsCa?: string;
  seeds: RedisSeedKey[];
  seedsChecksum: string;
  timeoutSeconds: number;
  /** Changes when the container is replaced. */
  serverId: string;
}

export interface RedisInitResult extends Record<string, unknown> {
  /** Keys this run wrote (they were absent). */
  seededThisRun: string[];
  /** Keys that already had a value, left as they were. */
  keptExisting: string[];
}

export async function applyRedisInit(inputs: RedisInitInputs): Promise<RedisInitResult> {
  return withAccess(redisInitServer(inputs), (server) => seed(inputs, server));
}

/** The Redis server, as the hook reaches it. */
export function redisInitServer(inputs: RedisInitInputs): ServerAccess {
  return { host: inputs.host, port: inputs.port, kubernetes: inputs.kubernetes };
}

async function seed(inputs: RedisInitInputs, server: OpenedAccess): Promise<RedisInitResult> {
  const { default: Redis } = require("ioredis") as typeof import("ioredis");
  const deadline = Date.now() + inputs.timeoutSeconds * 1000;
  for (let attempt = 1; ; attempt++) {
    const redis = new Redis({
      host: server.host,
      port: server.port,
      username: inputs.user,
      password: inputs.password,
      ...(inputs.tlsCa ? { tls: { ca: inputs.tlsCa, rejectUnauthorized: true } } : {}),
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    // ioredis rejects connect() with a bare "Connection is closed."; the reason (WRONGPASS...) comes as an event.
    let reason: Error | undefined;
    redis.on("error", (error: Error) => (reason = error));
    try {
      await redis.connect();
      // One round trip: SET NX per key, in a pipeline; "OK" means written, null means it existed.
      const pipeline = redis.pipeline();
      for (const seed of inputs.seeds) pipeline.set(seed.key, seed.value, "NX");
      const replies = (await pipeline.exec()) ?? [];
      const result: RedisInitResult = { seededThisRun: [], keptExisting: [] };
      replies.forEach(([error, reply], i) => {
        if (error) throw new Error(`Redis ${server.label}: SET ${inputs.seeds[i].key}: ${error.message}`);
        (reply === "OK" ? result.seededThisRun : result.keptExisting).push(inputs.seeds[i].key);
      });
      return result;
    } catch (error) {
      const message = (reason ?? (error as Error)).message;
      // Loading the AOF at start-up, or not listening yet: worth waiting for. Anything else (WRONGPASS, NOPERM) is final.
      const transient = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|LOADING|Connection is closed/.test(message);
      if (!transient || Date.now() > deadline) throw new Error(`Redis ${inputs.user}@${server.label}: seeding failed after ${attempt} attempt(s): ${message}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 1000)));
    } finally {
      redis.disconnect();
    }
  }
}
