// One engine suite at a time on the Docker daemon: vitest runs test files in parallel, and two
// stacks starting at once on a 2-core machine would each outwait the other's health probes.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const LOCK = path.join(os.tmpdir(), "trading-db-stack-engine.lock");

/** Waits until no other engine suite holds the daemon (mkdir is atomic), then holds it. */
export async function holdDockerDaemon(timeoutMs = 1_200_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(path.join(LOCK, "pid"), String(process.pid));
      return () => fs.rmSync(LOCK, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // A holder that died (an interrupted run) leaves its lock behind: take it over.
      const holder = Number(fs.readFileSync(path.join(LOCK, "pid"), { encoding: "utf8", flag: "a+" }) || 0);
      if (holder && !alive(holder)) fs.rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`another engine suite (pid ${holder}) held the Docker daemon for ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
