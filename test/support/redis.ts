// A real redis-server for the integration tests, started from the exact redis.conf and ACL file
// the program uploads into the container (taken from the mocked resource graph), with only the
// container paths, bind address and port changed for a test folder on a free loopback port.
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Redis from "ioredis";
import { reservedPort, findBinary } from "./servers";
import { waitUntil } from "./wait";

export function redisServerBin(): string {
  return findBinary(
    "redis-server",
    "REDIS_SERVER_BIN",
    ["/usr/bin/redis-server", "/usr/local/bin/redis-server"],
    "Install it with `apt-get install -y redis-server` (Debian; `bash .ci/run` does it), or set REDIS_SERVER_BIN.",
  );
}

export interface RedisTestServer {
  port: number;
  dir: string;
  process: ChildProcess;
  /** A client; `user`/`password` undefined means no login. */
  client(user?: string, password?: string): Promise<Redis>;
  stop(): Promise<void>;
  /** Starts again on the same folder and port (a container restart). */
  restart(): Promise<void>;
  log(): string;
  /** Rewrites an uploaded container path to where it lives in this test folder. */
  localPath(containerPath: string): string;
}

/**
 * How ioredis connects without a login to a server that refuses everything before AUTH: RESP2 (its
 * RESP3 handshake, HELLO, is refused) and no ready check (INFO is refused too).
 */
const ANONYMOUS = { protocol: 2, enableReadyCheck: false } as const;

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Starts redis-server from the uploads of the redis container: `uploads` as the program declared
 * them ({file, content}), `dataPath` the container's data folder (/data).
 */
export async function startRedisFromUploads(uploads: Array<{ file: string; content: string }>, configPath: string, dataPath: string): Promise<RedisTestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-redis-"));
  const port = await reservedPort();
  const localPath = (containerPath: string) => (containerPath === dataPath ? path.join(dir, "data") : path.join(dir, "files", containerPath));
  fs.mkdirSync(localPath(dataPath), { recursive: true });
  // With TLS (a tls-port and no clear port): the clients verify the server against the uploaded CA.
  const config = uploads.find((u) => u.file === configPath)?.content ?? "";
  const tlsCaFile = config.match(/^tls-ca-cert-file (.+)$/m)?.[1];
  const tlsCa = tlsCaFile ? uploads.find((u) => u.file === tlsCaFile)?.content : undefined;
  const tls = tlsCa ? { tls: { ca: tlsCa, rejectUnauthorized: true } } : {};
  for (const upload of uploads) {
    let content = upload.content;
    if (upload.file === configPath) {
      content = content
        .split("\n")
        .map((line) => {
          const [directive, ...rest] = line.split(" ");
          if (directive === "bind") return "bind 127.0.0.1";
          if (directive === "port") return tlsCa ? "port 0" : `port ${port}`;
          if (directive === "tls-port") return `tls-port ${port}`;
          if (["dir", "aclfile", "tls-cert-file", "tls-key-file", "tls-ca-cert-file"].includes(directive)) return `${directive} ${localPath(rest.join(" "))}`;
          return line;
        })
        .join("\n");
    }
    fs.mkdirSync(path.dirname(localPath(upload.file)), { recursive: true });
    fs.writeFileSync(localPath(upload.file), content);
  }
  const logFile = path.join(dir, "server.log");
  let child: ChildProcess;
  const server: RedisTestServer = {
    port,
    dir,
    get process() {
      return child;
    },
    async client(user, password) {
      const client = new Redis({ host: "127.0.0.1", port, username: user, password, ...(user === undefined ? ANONYMOUS : {}), ...tls, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      // connect() rejects with a bare "Connection is closed."; the reason (WRONGPASS...) comes as an event.
      let reason: Error | undefined;
      client.on("error", (error: Error) => (reason = error));
      await client.connect().catch((error: Error) => {
        throw reason ?? error;
      });
      return client;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM"); // redis-server flushes the AOF and exits
        await exited;
      }
      running.delete(child);
    },
    async restart() {
      await server.stop();
      await start();
    },
    log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""),
    localPath,
  };
  const start = async () => {
    const log = fs.openSync(logFile, "a");
    child = spawn(redisServerBin(), [localPath(configPath)], { stdio: ["ignore", log, log] });
    fs.closeSync(log);
    running.add(child);
    // Up when it answers at all: NOAUTH is an answer (the default user is off).
    const answers = async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}):\n${server.log()}`);
      const probe = new Redis({ host: "127.0.0.1", port, ...ANONYMOUS, ...tls, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => undefined);
      try {
        await probe.connect();
        await probe.ping().catch((error: Error) => {
          if (!/NOAUTH/.test(error.message)) throw error;
        });
        return true;
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    };
    await waitUntil(answers, 20_000, () => `redis-server on port ${port} not up:\n${server.log()}`).catch((error) => {
      child.kill("SIGKILL"); // no test will stop a server it never got
      throw error;
    });
  };
  await start();
  return server;
}
