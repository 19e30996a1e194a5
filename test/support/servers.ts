// What every real-server harness needs: a loopback port that stays its own, and finding a server
// binary with a message that says exactly what is missing and how to get it.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";

/**
 * A loopback port for a server a test starts (PostgreSQL, Redis, mongod: none can bind port 0 and
 * say which port it got), or for a tool that must listen where the outputs say (npm run forward).
 *
 * A port from listen(0) that is closed again is free for anyone: the kernel hands it to the next
 * outgoing connection or listen(0) of any process, and the server that binds it later fails with
 * EADDRINUSE. So the ports come from below the kernel's ephemeral range, which it never hands
 * out by itself, from a block of this test worker's own (VITEST_POOL_ID: workers run side by
 * side), each at most once per process (a restarted server keeps its port, nothing else takes it).
 * A port something else already holds (another process's fixed port) is skipped. The engine
 * suite's fixed dev ports (25000-28999) and the dev defaults lie outside the blocks.
 */
export async function reservedPort(): Promise<number> {
  block ??= workerBlock();
  while (block.next < block.end) {
    const port = block.next++;
    if (await bindable(port)) return port;
  }
  throw new Error(`reservedPort: every port of this worker's block ${block.end - BLOCK_SIZE}-${block.end - 1} is taken or was handed out`);
}

const RESERVED_FIRST = 29_000;
const BLOCK_SIZE = 400;
let block: { next: number; end: number } | undefined;

function workerBlock(): { next: number; end: number } {
  const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range";
  const ephemeralFirst = fs.existsSync(rangeFile) ? Number(fs.readFileSync(rangeFile, "utf8").trim().split(/\s+/)[0]) : 32_768;
  const blocks = Math.floor((ephemeralFirst - RESERVED_FIRST) / BLOCK_SIZE);
  const worker = Number(process.env.VITEST_POOL_ID ?? "1");
  if (worker > blocks) {
    throw new Error(`reservedPort: test worker ${worker} has no port block of its own: ${blocks} blocks of ${BLOCK_SIZE} fit between ${RESERVED_FIRST} and the kernel's ephemeral range (net.ipv4.ip_local_port_range starts at ${ephemeralFirst}); run fewer workers (vitest --maxWorkers) or raise that range's start`);
  }
  const first = RESERVED_FIRST + (worker - 1) * BLOCK_SIZE;
  return { next: first, end: first + BLOCK_SIZE };
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A binary from $envVar, else PATH, else the first known location that exists. */
export function findBinary(name: string, envVar: string, knownLocations: string[], howToInstall: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (fs.existsSync(fromEnv)) return fromEnv;
    throw new Error(`${envVar}=${fromEnv} does not exist; point it at the ${name} binary`);
  }
  const onPath = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
  if (onPath) return onPath;
  const known = knownLocations.find((p) => fs.existsSync(p));
  if (known) return known;
  throw new Error(`${name} not found (looked at $${envVar}, PATH, ${knownLocations.join(", ")}). ${howToInstall}`);
}
