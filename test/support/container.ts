// A container's files on this machine, laid out the way each engine mounts them, for running the
// container scripts (init/scripts) as each engine starts them:
// - docker: started as the image's own user (the container's `user`, no capabilities); Pulumi's
//   uploads are root-owned, scripts 0755, other files 0644, but secret files are the user's with
//   mode 0400; a volume's folder is the user's (Docker fills a new volume with the image's folder,
//   which the image's user owns).
// - kubernetes: started as the image's own user (securityContext runAsNonRoot, runAsUser/runAsGroup =
//   that user, fsGroup = its gid, no capabilities): the PVC's root is root:<gid> with g+rwx and
//   setgid (2775), Secret files root:<gid> 0440, ConfigMap files root:<gid> 0644, scripts 0555.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export type Engine = "docker" | "kubernetes";
export const ENGINES: readonly Engine[] = ["docker", "kubernetes"];

export interface ImageUser {
  uid: number;
  gid: number;
}

export interface ContainerFiles {
  engine: Engine;
  user: ImageUser;
  /** The container's own folder (root-owned, 0755); everything below is in it. */
  dir: string;
  /** Scripts and stand-ins, first on PATH. */
  bin: string;
  /** A volume's mount point (a PVC's root on Kubernetes). */
  volume(name: string): string;
  /** A credential file (/run/secrets/... on both engines). */
  secret(name: string, content: string): string;
  /** A configuration file (pg_hba.conf: an upload, or a ConfigMap key). */
  config(name: string, content: string): string;
  /** Copies a script or stand-in into bin with the mode the engine gives it. */
  script(source: string, name?: string): string;
  /** argv that starts a command as both engines do: as the image's user with only its gid. */
  argv(command: string, args: string[]): [string, string[]];
  spawn(command: string, args: string[], env: Record<string, string>, logFile: string): ChildProcess;
  run(command: string, args: string[], env: Record<string, string>): SpawnSyncReturns<string>;
}

export function containerFiles(label: string, engine: Engine, user: ImageUser): ContainerFiles {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tdbs-${label}-${engine}-`));
  fs.chmodSync(dir, 0o755);
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin, { mode: 0o755 });
  const k8s = engine === "kubernetes";
  const place = (file: string, mode: number, owner = 0) => {
    // Kubernetes: every mounted file's group is the fsGroup; Docker: the user's files its group, root's root's.
    fs.chownSync(file, owner, k8s || owner !== 0 ? user.gid : 0);
    fs.chmodSync(file, mode);
    return file;
  };
  const write = (sub: string, name: string, content: string, mode: number, owner = 0) => {
    fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o755 });
    const file = path.join(dir, sub, name);
    fs.writeFileSync(file, content);
    return place(file, mode, owner);
  };
  const argv = (command: string, args: string[]): [string, string[]] => ["setpriv", [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", command, ...args]];
  return {
    engine,
    user,
    dir,
    bin,
    volume(name) {
      const mount = path.join(dir, name);
      fs.mkdirSync(mount, { recursive: true });
      return k8s ? place(mount, 0o2775) : place(mount, 0o755, user.uid);
    },
    secret: (name, content) => (k8s ? write("secrets", name, content, 0o440) : write("secrets", name, content, 0o400, user.uid)),
    config: (name, content) => write("config", name, content, 0o644),
    script: (source, name = path.basename(source)) => write("bin", name, fs.readFileSync(source, "utf8"), k8s ? 0o555 : 0o755),
    argv,
    spawn(command, args, env, logFile) {
      const log = fs.openSync(logFile, "a");
      const [program, programArgs] = argv(command, args);
      const child = spawn(program, programArgs, { env, stdio: ["ignore", log, log] });
      fs.closeSync(log);
      return child;
    },
    run(command, args, env) {
      const [program, programArgs] = argv(command, args);
      return spawnSync(program, programArgs, { env, encoding: "utf8" });
    },
  };
}

/** uid, gid and the permission bits (setgid included) of a file, as `stat` reports them. */
export function ownership(file: string): { uid: number; gid: number; mode: string } {
  const stat = fs.statSync(file);
  return { uid: stat.uid, gid: stat.gid, mode: (stat.mode & 0o7777).toString(8).padStart(4, "0") };
}

/** The real, effective, saved and filesystem uids of a running process. */
/** A running process's environment, as /proc shows it to root. */
export function processEnviron(pid: number): Record<string, string> {
  const entries = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

export function processUids(pid: number): number[] {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return status.match(/^Uid:\s+(.*)$/m)![1].trim().split(/\s+/).map(Number);
}
