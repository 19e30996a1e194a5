// The Kubernetes liveness probes (each spec's `alive` check; PostgreSQL's is CloudNativePG's own) against real servers: they pass on
// a server that answers, and fail on a wedged one, which a TCP probe (what they replace) still
// passes, since the kernel completes the handshake for a process that answers nothing. Each runs
// as the kubelet runs it, `sh -c` with its timeout; only ports and file paths differ from the pod's.
import { execFile } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { programKeyfile, startMembers, stopMembers, type MongoMember } from "../support/mongo";
import { plain, requireBuilt, ROOT, runProgram } from "../support/pulumi";
import { startRedisFromUploads, type RedisTestServer } from "../support/redis";

interface Check {
  command: string;
  timeoutSeconds: number;
}

let redis: RedisTestServer;
let mongo: MongoMember[] = [];
let mongoshBin: string;

/**
 * Whether the probe passes: exit 0 within its timeout (the kubelet counts a timeout as a failure).
 * Asynchronous, so a server in this process (the fake below) can answer meanwhile.
 */
function passes(check: Check, replace: Array<[string, string]>, env: Record<string, string> = {}): Promise<boolean> {
  let command = check.command;
  for (const [from, to] of replace) {
    if (!command.includes(from)) throw new Error(`the probe no longer contains ${from}: ${command}`);
    command = command.split(from).join(to);
  }
  return new Promise((resolve) => {
    execFile("sh", ["-c", command], { env: { ...process.env, ...env }, timeout: check.timeoutSeconds * 1000, killSignal: "SIGKILL" }, (error) => resolve(error === null));
  });
}

/** What a TCP probe sees: the handshake completes. */
function tcpConnects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** Runs `work` while the process is stopped (SIGSTOP): it holds its port and answers nothing. */
async function whileWedged<T>(pid: number, work: () => Promise<T>): Promise<T> {
  process.kill(pid, "SIGSTOP");
  try {
    return await work();
  } finally {
    process.kill(pid, "SIGCONT");
  }
}

beforeAll(async () => {
  const run = await runProgram("dev");
  const container = plain(run.byName("trading-redis-server").inputs);
  redis = await startRedisFromUploads(container.uploads, "/usr/local/etc/redis/redis.conf", "/data");
  mongo = await startMembers(1, programKeyfile(run));
  mongoshBin = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-mongosh-"));
  fs.writeFileSync(path.join(mongoshBin, "mongosh"), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, "test/engine/images/mongo/mongosh.js")}" "$@"\n`, { mode: 0o755 });
}, 120_000);

afterAll(async () => {
  await redis?.stop();
  if (redis) fs.rmSync(redis.dir, { recursive: true, force: true });
  await stopMembers(mongo);
  if (mongoshBin) fs.rmSync(mongoshBin, { recursive: true, force: true });
});

describe("liveness asks the server itself", () => {
  test("Redis: PING as the health user; a wedged server fails it", async () => {
    const alive: Check = requireBuilt("components/redis-spec.js").redisAliveCheck();
    const passwordFile = "/run/secrets/redis-healthcheck-password";
    const local: Array<[string, string]> = [
      [passwordFile, redis.localPath(passwordFile)],
      ["-p 6379", `-p ${redis.port}`],
    ];
    expect(await passes(alive, local)).toBe(true);
    await whileWedged(redis.process.pid!, async () => {
      expect(await tcpConnects(redis.port)).toBe(true);
      expect(await passes(alive, local)).toBe(false);
    });
    expect(await passes(alive, local)).toBe(true);
  });

  test("Redis: a server loading its AOF (LOADING to PING) is alive, though not yet ready", async () => {
    const spec = requireBuilt("components/redis-spec.js");
    const passwordFile = "/run/secrets/redis-healthcheck-password";
    // Redis while it loads: AUTH works, every other command gets -LOADING.
    const loading = net.createServer((socket) => {
      let commands = 0;
      socket.on("data", (data) => {
        for (const _ of data.toString().matchAll(/^\*\d+\r\n/gm)) socket.write(commands++ === 0 ? "+OK\r\n" : "-LOADING Redis is loading the dataset in memory\r\n");
      });
    });
    await new Promise<void>((resolve) => loading.listen(0, "127.0.0.1", resolve));
    const local: Array<[string, string]> = [
      [passwordFile, redis.localPath(passwordFile)],
      ["-p 6379", `-p ${(loading.address() as net.AddressInfo).port}`],
    ];
    try {
      expect(await passes(spec.redisAliveCheck(), local)).toBe(true);
      expect(await passes(spec.redisReadyCheck(), local)).toBe(false);
    } finally {
      await new Promise((resolve) => loading.close(resolve));
    }
  });

  test("MongoDB: mongosh ping; a wedged mongod fails it", async () => {
    // A member's liveness is its up check (the spec's default): ping, which answers in every member state.
    const alive: Check = requireBuilt("components/mongo-spec.js").mongoReadyCheck();
    const member = mongo[0];
    const local: Array<[string, string]> = [["--port 27017", `--port ${member.port}`]];
    const env = { PATH: `${mongoshBin}:${process.env.PATH}`, HOSTNAME: "127.0.0.1" };
    expect(await passes(alive, local, env)).toBe(true);
    await whileWedged(member.process.pid!, async () => {
      expect(await tcpConnects(member.port)).toBe(true);
      expect(await passes(alive, local, env)).toBe(false);
    });
    expect(await passes(alive, local, env)).toBe(true);
  });
});
