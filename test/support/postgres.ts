// Real PostgreSQL servers for the integration tests: own clusters (initdb) on free loopback
// ports, run as the `postgres` OS user when the tests run as root, never the system service.
// They get the same pg_hba.conf and server settings as the containers (from the built spec).
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { requireBuilt, ROOT } from "./pulumi";
import { freePort } from "./servers";
import { waitUntil } from "./wait";

const REQUIRED = ["initdb", "postgres", "pg_ctl", "pg_basebackup", "pg_isready", "psql"];

/** Folder with the PostgreSQL server binaries: $PG_BIN_DIR, then PATH, then Debian's /usr/lib/postgresql/<n>/bin. */
export function pgBinDir(): string {
  const has = (dir: string) => REQUIRED.every((b) => fs.existsSync(path.join(dir, b)));
  const candidates: string[] = [];
  if (process.env.PG_BIN_DIR) {
    if (has(process.env.PG_BIN_DIR)) return process.env.PG_BIN_DIR;
    throw new Error(`PG_BIN_DIR=${process.env.PG_BIN_DIR} lacks some of: ${REQUIRED.join(", ")}`);
  }
  const onPath = spawnSync("sh", ["-c", "command -v pg_ctl"], { encoding: "utf8" }).stdout.trim();
  if (onPath) candidates.push(path.dirname(fs.realpathSync(onPath)));
  const debian = "/usr/lib/postgresql";
  if (fs.existsSync(debian)) {
    for (const v of fs.readdirSync(debian).sort((a, b) => Number(b) - Number(a))) candidates.push(path.join(debian, v, "bin"));
  }
  const found = candidates.find(has);
  if (!found) {
    throw new Error(
      `PostgreSQL server binaries not found (need ${REQUIRED.join(", ")}). ` +
        "Install them with `apt-get install -y postgresql` (Debian), or set PG_BIN_DIR to their folder.",
    );
  }
  return found;
}

/** The OS user servers run as: postgres when we are root (PostgreSQL refuses root), else ourselves. */
function serverUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
  const uid = id("-u");
  if (uid.status !== 0) throw new Error("running as root, but there is no `postgres` OS user to run PostgreSQL as; install the postgresql package or run the tests as a normal user");
  return { name: "postgres", uid: Number(uid.stdout.trim()), gid: Number(id("-g").stdout.trim()) };
}

/** A private folder owned by the server user. */
export function serverDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tdbs-${label}-`));
  chownForServer(dir);
  return dir;
}

function chownForServer(p: string): void {
  const user = serverUser();
  if (user) fs.chownSync(p, user.uid, user.gid);
}

/** argv that runs a command as the server user, in a clean environment whose PATH leads to the PostgreSQL binaries. */
function asServerUser(command: string, args: string[], env: Record<string, string>): [string, string[]] {
  const envArgs = Object.entries({ PATH: `${pgBinDir()}:/usr/bin:/bin`, LANG: "C.UTF-8", ...env }).map(([k, v]) => `${k}=${v}`);
  const user = serverUser();
  const argv = ["-i", ...envArgs, command, ...args];
  return user ? ["runuser", ["-u", user.name, "--", "env", ...argv]] : ["env", argv];
}

/** Starts a command as the server user, its output appended to logFile. */
export function spawnAsServerUser(command: string, args: string[], env: Record<string, string>, logFile: string): ChildProcess {
  const log = fs.openSync(logFile, "a");
  const [program, argv] = asServerUser(command, args, env);
  const child = spawn(program, argv, { stdio: ["ignore", log, log] });
  fs.closeSync(log);
  return child;
}

function runAsServerUser(command: string, args: string[], env: Record<string, string> = {}): void {
  const [program, argv] = asServerUser(command, args, env);
  const result = spawnSync(program, argv, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
}

export interface PgServer {
  port: number;
  dir: string;
  dataDir: string;
  logFile: string;
  superuserPassword: string;
  process: ChildProcess;
  /** A connected client as the superuser (caller ends it). */
  connect(database?: string, user?: string, password?: string): Promise<Client>;
  stop(): Promise<void>;
  log(): string;
}

/** Settings the containers get (components/postgres-spec.ts), adjusted to a test folder and port. */
export function testServerSettings(dir: string, port: number, extra: Record<string, string> = {}): string[] {
  const spec = requireBuilt("components/postgres-spec.js");
  const { parseStackConfig } = requireBuilt("components/config.js");
  const pgConfig = parseStackConfig((key: string) => (key === "postgresMemoryMb" ? "256" : undefined)).postgres;
  const hbaFile = path.join(dir, "pg_hba.conf");
  fs.writeFileSync(hbaFile, spec.pgHbaConf());
  chownForServer(hbaFile);
  const settings = {
    ...spec.serverSettings(pgConfig),
    hba_file: hbaFile,
    listen_addresses: "127.0.0.1",
    port: String(port),
    unix_socket_directories: dir,
    // Test clusters hold nothing worth an fsync.
    fsync: "off",
    synchronous_commit: "off",
    ...extra,
  };
  // postgresCommand gives ["postgres", "-c", ...]; the caller decides how postgres is started.
  return spec.postgresCommand(settings).slice(1);
}

/** Data folders of servers still running; stopped when the test process exits, whatever happened. */
const running = new Set<string>();
process.on("exit", () => {
  for (const dataDir of running) {
    try {
      runAsServerUser("pg_ctl", ["stop", "-D", dataDir, "-m", "immediate", "-w"]);
    } catch {
      // already gone
    }
  }
});

/** Waits until the server accepts a superuser connection, or fails with its log. */
export async function waitForServer(server: Pick<PgServer, "port" | "superuserPassword" | "log" | "process">, timeoutMs = 60_000): Promise<void> {
  const accepts = async () => {
    if (server.process.exitCode !== null) throw new Error(`server on port ${server.port} exited (${server.process.exitCode}):\n${server.log()}`);
    const client = new Client({ host: "127.0.0.1", port: server.port, user: "postgres", password: server.superuserPassword, database: "postgres" });
    try {
      await client.connect();
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  await waitUntil(accepts, timeoutMs, () => `server on port ${server.port} not ready after ${timeoutMs} ms:\n${server.log()}`, 100);
}

/** Wraps a running postgres process (started by us or by the replica entrypoint script). */
export function serverHandle(child: ChildProcess, port: number, dir: string, dataDir: string, logFile: string, superuserPassword: string): PgServer {
  running.add(dataDir);
  const server: PgServer = {
    port,
    dir,
    dataDir,
    logFile,
    superuserPassword,
    process: child,
    async connect(database = "postgres", user = "postgres", password = superuserPassword) {
      const client = new Client({ host: "127.0.0.1", port, user, password, database });
      await client.connect();
      return client;
    },
    async stop() {
      // pg_ctl, not a signal to our child: that child is runuser (as root) or env, not postgres itself.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        runAsServerUser("pg_ctl", ["stop", "-D", dataDir, "-m", "fast", "-w"]);
        await exited;
      }
      running.delete(dataDir);
    },
    log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""),
  };
  return server;
}

/** initdb + start a primary with the containers' settings; the superuser gets `superuserPassword`. */
export async function startPrimary(superuserPassword: string, label = "primary"): Promise<PgServer> {
  const dir = serverDir(label);
  const dataDir = path.join(dir, "data");
  const pwFile = path.join(dir, "pwfile");
  fs.writeFileSync(pwFile, superuserPassword);
  chownForServer(pwFile);
  runAsServerUser("initdb", ["-D", dataDir, "-U", "postgres", `--pwfile=${pwFile}`, "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]);
  fs.rmSync(pwFile);
  const port = await freePort();
  const logFile = path.join(dir, "server.log");
  const child = spawnAsServerUser("postgres", ["-D", dataDir, ...testServerSettings(dir, port)], {}, logFile);
  const server = serverHandle(child, port, dir, dataDir, logFile, superuserPassword);
  await waitForServer(server);
  return server;
}

export const REPLICA_ENTRYPOINT = path.join(ROOT, "init/scripts/postgres-replica-entrypoint.sh");

export interface ReplicaOptions {
  primary: PgServer;
  slot: string;
  replicationUser: string;
  replicationPassword: string;
  /** Reuse a replica's folder (a restart); a new one otherwise. */
  dir?: string;
  port?: number;
}

/** Runs init/scripts/postgres-replica-entrypoint.sh as the container would, and waits for the standby. */
export async function startReplica(options: ReplicaOptions): Promise<PgServer> {
  const dir = options.dir ?? serverDir("replica");
  const port = options.port ?? (await freePort());
  const dataDir = path.join(dir, "data");
  const passwordFile = path.join(dir, "replication-password");
  fs.writeFileSync(passwordFile, options.replicationPassword);
  const logFile = path.join(dir, "server.log");
  const child = spawnAsServerUser("bash", [REPLICA_ENTRYPOINT, "postgres", ...testServerSettings(dir, port)], replicaScriptEnv(options, dir, dataDir, passwordFile), logFile);
  const server = serverHandle(child, port, dir, dataDir, logFile, options.primary.superuserPassword);
  await waitForServer(server);
  return server;
}

export function replicaScriptEnv(options: ReplicaOptions, dir: string, dataDir: string, passwordFile: string): Record<string, string> {
  return {
    PGDATA: dataDir,
    PRIMARY_HOST: "127.0.0.1",
    PRIMARY_PORT: String(options.primary.port),
    PRIMARY_WAIT_SECONDS: "30",
    REPLICATION_USER: options.replicationUser,
    REPLICATION_PASSWORD_FILE: passwordFile,
    REPLICATION_PASSFILE: path.join(dir, "replication.pgpass"),
    REPLICATION_SLOT: options.slot,
  };
}

export function removeServerDir(server: PgServer): void {
  fs.rmSync(server.dir, { recursive: true, force: true });
}
