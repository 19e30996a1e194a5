// What every real-server harness needs: a free loopback port, and finding a server binary with a
// message that says exactly what is missing and how to get it.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
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
