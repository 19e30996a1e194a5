// Real PostgreSQL servers for the integration tests: own clusters (initdb) on free loopback
// ports, run as the `postgres` OS user when the tests run as root, never the system service.
// They get the same pg_hba.conf and server settings as the containers (from the built spec).
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { containerFiles, type ContainerFiles, type Engine } from "./container";
import { requireBuilt, ROOT } from "./pulumi";
import { reservedPort } from "./servers";
import { issueTestCert, type TestCa } from "./tls";
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
export function serverUser(): { name: string; uid: number; gid: number } | undefined {
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
  /** With TLS: the CA (PEM) its certificate chains to; every connection of these helpers then verifies it. */
  tlsCa?: string;
  /** With TLS: the name its certificate is checked for, when not 127.0.0.1 (a certificate of other names). */
  tlsServername?: string;
  /** A connected client as the superuser (caller ends it). */
  connect(database?: string, user?: string, password?: string): Promise<Client>;
  /** Runs `work` with a superuser client of `database`, and ends it. */
  asSuperuser<T>(database: string, work: (client: Client) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
  log(): string;
}

export const HBA_SCRIPT = path.join(ROOT, "init/scripts/postgres-hba.sh");

/**
 * A route table as a container on the stack's two networks sees it: the default route through the
 * host's address on the app network (172.30.0.1), and the internal network, here 127.0.0.0/8 so the
 * test replicas (on 127.0.0.1) stream from "the internal network" and the tests' superuser logins
 * (from 127.0.0.1) count as from inside the server.
 */
export const TEST_ROUTES = [
  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
  "eth0\t00000000\t01001EAC\t0003\t0\t0\t0\t00000000\t0\t0\t0",
  "eth0\t00001EAC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
  "eth1\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0",
  "",
].join("\n");

/** The environment init/scripts/postgres-hba.sh gets in a test folder: the template, the output, TEST_ROUTES. */
export function testHbaEnv(dir: string, tls = false): Record<string, string> {
  const template = path.join(dir, "pg_hba.conf.template");
  fs.writeFileSync(template, requireBuilt("components/postgres-spec.js").pgHbaTemplate(tls));
  const routes = path.join(dir, "routes");
  fs.writeFileSync(routes, TEST_ROUTES);
  return { HBA_TEMPLATE: template, HBA_FILE: path.join(dir, "pg_hba.conf"), HBA_SCRIPT: HBA_SCRIPT, PROC_NET_ROUTE: routes };
}

/** pg_hba.conf written by the containers' own script (init/scripts/postgres-hba.sh) from the template. */
export function renderTestHba(dir: string, tls = false): string {
  const env = testHbaEnv(dir, tls);
  const result = spawnSync("bash", [HBA_SCRIPT], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`postgres-hba.sh failed: ${result.stderr}`);
  chownForServer(env.HBA_FILE);
  return env.HBA_FILE;
}

/** Settings the containers get (components/postgres-spec.ts), adjusted to a test folder and port. */
export function testServerSettings(dir: string, port: number, extra: Record<string, string> = {}, tls?: TestServerTls): string[] {
  const spec = requireBuilt("components/postgres-spec.js");
  const { parseStackConfig } = requireBuilt("components/config.js");
  // The smallest server; 256 MiB holds at most 96 connections (config.ts), fewer than the default 100.
  const small: Record<string, string> = { postgresMemoryMb: "256", postgresMaxConnections: "96" };
  const pgConfig = parseStackConfig((key: string) => small[key]).postgres;
  const hbaFile = renderTestHba(dir, tls !== undefined);
  const settings = {
    ...spec.serverSettings(pgConfig),
    // The containers' TLS settings, with this folder's certificate and key.
    ...(tls ? { ...spec.tlsSettings(), ssl_cert_file: tls.certFile, ssl_key_file: tls.keyFile } : {}),
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

/** A test server's own certificate and key, the server user's, 0600 (as PostgreSQL demands of the key). */
export interface TestServerTls {
  certFile: string;
  keyFile: string;
}

/** Issues a server certificate from `ca` for 127.0.0.1 and localhost into `dir`, readable by the server only. */
export function testServerTls(ca: TestCa, dir: string, names = { dns: ["localhost"], ips: ["127.0.0.1"] }): TestServerTls {
  const cert = issueTestCert(ca, dir, "server", names);
  return writeServerTls({ cert: cert.pem, key: cert.keyPem, ca: ca.pem }, dir);
}

/** A certificate, its key and the CA that signed it, as PEM (the stack's, from a Secret the program declares). */
export interface PemTls {
  cert: string;
  key: string;
  ca: string;
}

/** Writes `pem` into `dir` for a server: certificate and key the server user's, 0600; the CA readable. */
export function writeServerTls(pem: PemTls, dir: string): TestServerTls & { caFile: string } {
  const files = { certFile: path.join(dir, "server.crt"), keyFile: path.join(dir, "server.key"), caFile: path.join(dir, "ca.crt") };
  fs.writeFileSync(files.certFile, pem.cert, { mode: 0o600 });
  fs.writeFileSync(files.keyFile, pem.key, { mode: 0o600 });
  fs.writeFileSync(files.caFile, pem.ca, { mode: 0o644 });
  for (const file of Object.values(files)) chownForServer(file);
  return files;
}

/** A client's TLS options that verify a server against `ca` (PEM), as the hooks' do. */
export const verifying = (ca: string | undefined, servername?: string) => (ca ? { ssl: { ca, rejectUnauthorized: true, ...(servername ? { servername } : {}) } } : {});

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
export async function waitForServer(server: Pick<PgServer, "port" | "superuserPassword" | "log" | "process" | "tlsCa" | "tlsServername">, timeoutMs = 60_000): Promise<void> {
  const accepts = async () => {
    if (server.process.exitCode !== null) throw new Error(`server on port ${server.port} exited (${server.process.exitCode}):\n${server.log()}`);
    const client = new Client({ host: "127.0.0.1", port: server.port, user: "postgres", password: server.superuserPassword, database: "postgres", ...verifying(server.tlsCa, server.tlsServername) });
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
export function serverHandle(child: ChildProcess, port: number, dir: string, dataDir: string, logFile: string, superuserPassword: string, tlsCa?: string, tlsServername?: string): PgServer {
  running.add(dataDir);
  const server: PgServer = {
    port,
    dir,
    dataDir,
    logFile,
    superuserPassword,
    process: child,
    tlsCa,
    tlsServername,
    async connect(database = "postgres", user = "postgres", password = superuserPassword) {
      const client = new Client({ host: "127.0.0.1", port, user, password, database, ...verifying(tlsCa, tlsServername) });
      await client.connect();
      return client;
    },
    async asSuperuser(database, work) {
      const client = await server.connect(database);
      try {
        return await work(client);
      } finally {
        await client.end();
      }
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
export async function startPrimary(superuserPassword: string, label = "primary", options: { tls?: TestCa; tlsDnsName?: string; tlsPem?: PemTls } = {}): Promise<PgServer> {
  const dir = serverDir(label);
  const dataDir = path.join(dir, "data");
  const pwFile = path.join(dir, "pwfile");
  fs.writeFileSync(pwFile, superuserPassword);
  chownForServer(pwFile);
  runAsServerUser("initdb", ["-D", dataDir, "-U", "postgres", `--pwfile=${pwFile}`, "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]);
  fs.rmSync(pwFile);
  const port = await reservedPort();
  const logFile = path.join(dir, "server.log");
  // tlsDnsName: a certificate for that name only (no 127.0.0.1), checked for that name.
  const names = options.tlsDnsName ? { dns: [options.tlsDnsName], ips: [] } : undefined;
  const tls = options.tlsPem ? writeServerTls(options.tlsPem, dir) : options.tls ? testServerTls(options.tls, dir, names) : undefined;
  const child = spawnAsServerUser("postgres", ["-D", dataDir, ...testServerSettings(dir, port, {}, tls)], {}, logFile);
  const server = serverHandle(child, port, dir, dataDir, logFile, superuserPassword, options.tlsPem?.ca ?? options.tls?.pem, options.tlsDnsName);
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
  /** TLS: the CA that signs this replica's own certificate, and the CA file it verifies its primary against (PRIMARY_SSLROOTCERT). */
  tls?: { ca: TestCa; primaryCaFile: string; waitSeconds?: number };
  /** TLS with a given certificate (its own), verifying the primary against its CA. */
  tlsPem?: PemTls;
}

/** Runs init/scripts/postgres-replica-entrypoint.sh as the container would, and waits for the standby. */
export async function startReplica(options: ReplicaOptions): Promise<PgServer> {
  const dir = options.dir ?? serverDir("replica");
  const port = options.port ?? (await reservedPort());
  const dataDir = path.join(dir, "data");
  const passwordFile = path.join(dir, "replication-password");
  fs.writeFileSync(passwordFile, options.replicationPassword);
  const logFile = path.join(dir, "server.log");
  const pemTls = options.tlsPem ? writeServerTls(options.tlsPem, dir) : undefined;
  const tls = pemTls ?? (options.tls ? testServerTls(options.tls.ca, dir) : undefined);
  const env = { ...replicaScriptEnv(options, dir, dataDir, passwordFile), ...(pemTls ? { PRIMARY_SSLROOTCERT: pemTls.caFile } : {}) };
  const child = spawnAsServerUser("bash", [REPLICA_ENTRYPOINT, "postgres", ...testServerSettings(dir, port, {}, tls)], env, logFile);
  const server = serverHandle(child, port, dir, dataDir, logFile, options.primary.superuserPassword, options.tlsPem?.ca ?? options.tls?.ca.pem);
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
    ...(options.tls ? { PRIMARY_SSLROOTCERT: options.tls.primaryCaFile, PRIMARY_WAIT_SECONDS: String(options.tls.waitSeconds ?? 30) } : {}),
  };
}

export function removeServerDir(server: PgServer): void {
  fs.rmSync(server.dir, { recursive: true, force: true });
}

/** The official image's entrypoint (../shared/contracts/images, byte for byte from docker-library/postgres). */
export const IMAGE_ENTRYPOINT = path.resolve(ROOT, "../shared/contracts/images/postgres/docker-entrypoint.sh");
export const PRIMARY_ENTRYPOINT = path.join(ROOT, "init/scripts/postgres-primary-entrypoint.sh");

/**
 * A PostgreSQL container's files (see ./container), started as the postgres OS user, as both
 * engines start it (the image's user is postgres). The volume is mounted at `volume` and
 * PGDATA is a versioned folder below it, as postgres:18 does; `run` is the image's own
 * /var/run/postgresql (owned by postgres in the image). There is no gosu on PATH: a script that
 * still called it would fail.
 */
export interface PgContainer {
  files: ContainerFiles;
  volume: string;
  pgdata: string;
  run: string;
  port: number;
  logFile: string;
  env: Record<string, string>;
}

export async function pgContainer(label: string, engine: Engine): Promise<PgContainer> {
  const user = serverUser();
  if (!user) throw new Error("the container layouts need root (the tests chown files to postgres and to root)");
  const files = containerFiles(label, engine, user);
  const volume = files.volume("var-lib-postgresql");
  const run = path.join(files.dir, "var-run-postgresql");
  fs.mkdirSync(run, { mode: 0o3777 });
  fs.chownSync(run, user.uid, user.gid);
  const pgdata = path.join(volume, "15", "docker");
  const env = { PATH: `${files.bin}:${pgBinDir()}:/usr/sbin:/usr/bin:/sbin:/bin`, LANG: "C.UTF-8", PGDATA: pgdata };
  return { files, volume, pgdata, run, port: await reservedPort(), logFile: path.join(files.dir, "container.log"), env };
}

/**
 * The image's docker-entrypoint.sh for a test container: the official file, with only the two
 * folders it makes at the container's root moved into the container's folder, as this machine
 * has no /docker-entrypoint-initdb.d and its /var/run/postgresql is not the test's to chmod.
 * Servers it starts still put their sockets in the binaries' default folder, as in the image.
 */
function installImageEntrypoint(c: PgContainer): void {
  if (!fs.existsSync(IMAGE_ENTRYPOINT)) throw new Error(`${IMAGE_ENTRYPOINT} is missing: the primary tests run the official entrypoint from ../shared/contracts/images`);
  const initdb = path.join(c.files.dir, "docker-entrypoint-initdb.d");
  fs.mkdirSync(initdb, { mode: 0o755 });
  let text = fs.readFileSync(IMAGE_ENTRYPOINT, "utf8");
  for (const [from, to] of [["/docker-entrypoint-initdb.d", initdb], ["/var/run/postgresql", c.run]]) {
    if (!text.includes(from)) throw new Error(`${IMAGE_ENTRYPOINT} no longer mentions ${from}`);
    text = text.split(from).join(to);
  }
  fs.writeFileSync(path.join(c.files.bin, "docker-entrypoint.sh"), text, { mode: 0o755 });
}

/**
 * The container's server settings: the containers' own (testServerSettings) with pg_hba.conf as
 * the engine mounts it, and no socket folder of its own: the image's entrypoint and the wrapper
 * reach their temporary servers through the binaries' default socket folder.
 */
function containerServerArgs(c: PgContainer): string[] {
  const args = testServerSettings(c.files.dir, c.port, { hba_file: containerHbaEnv(c).HBA_FILE });
  const socketAt = args.findIndex((a) => a.startsWith("unix_socket_directories="));
  if (socketAt < 1) throw new Error(`testServerSettings no longer sets unix_socket_directories: ${args.join(" ")}`);
  args.splice(socketAt - 1, 2);
  return args;
}

/**
 * What the engine gives a container for its pg_hba.conf: the template and init/scripts/postgres-hba.sh
 * as uploads, TEST_ROUTES for its route table; the wrapper writes the file in the run folder at start.
 */
function containerHbaEnv(c: PgContainer): Record<string, string> {
  return {
    HBA_TEMPLATE: c.files.config("pg_hba.conf.template", requireBuilt("components/postgres-spec.js").pgHbaTemplate()),
    HBA_FILE: path.join(c.run, "pg_hba.conf"),
    HBA_SCRIPT: c.files.script(HBA_SCRIPT, "trading-postgres-hba.sh"),
    PROC_NET_ROUTE: c.files.config("routes", TEST_ROUTES),
  };
}

/**
 * Starts the primary as its container does: init/scripts/postgres-primary-entrypoint.sh (uploaded
 * or mounted as a script), then the official docker-entrypoint.sh, with the program's environment
 * (components/postgres-spec.ts primaryEnv) adjusted to the container's folder. The superuser
 * password is whatever the container's secret file holds.
 */
export async function startPrimaryContainer(c: PgContainer, superuserPassword: string): Promise<PgServer> {
  if (!fs.existsSync(path.join(c.files.bin, "docker-entrypoint.sh"))) installImageEntrypoint(c);
  const wrapper = fs.existsSync(path.join(c.files.bin, "trading-primary-entrypoint.sh"))
    ? path.join(c.files.bin, "trading-primary-entrypoint.sh")
    : c.files.script(PRIMARY_ENTRYPOINT, "trading-primary-entrypoint.sh");
  const { primaryEnv } = requireBuilt("components/postgres-spec.js");
  const { parseStackConfig } = requireBuilt("components/config.js");
  const programEnv: Record<string, string> = primaryEnv(parseStackConfig(() => undefined).postgres);
  const env = {
    ...programEnv,
    ...c.env,
    ...containerHbaEnv(c),
    POSTGRES_PASSWORD_FILE: path.join(c.files.dir, "secrets", "postgres-password"),
    // The temporary servers (the image's init phase, the wrapper's password reset) listen on a Unix
    // socket only, in the default folder: on this machine other servers may be there, so not 5432.
    PGPORT: String(c.port),
  };
  const child = c.files.spawn(wrapper, ["postgres", ...containerServerArgs(c)], env, c.logFile);
  const server = serverHandle(child, c.port, c.files.dir, c.pgdata, c.logFile, superuserPassword);
  await waitForServer(server);
  return server;
}

/** Runs init/scripts/postgres-replica-entrypoint.sh as the engine starts it, and waits for the standby. */
export async function startReplicaContainer(c: PgContainer, options: ReplicaOptions): Promise<PgServer> {
  const script = c.files.script(REPLICA_ENTRYPOINT, "trading-replica-entrypoint.sh");
  const hba = containerHbaEnv(c);
  const passwordFile = c.files.secret("replication-password", options.replicationPassword);
  const env = {
    ...c.env,
    ...replicaScriptEnv(options, c.files.dir, c.pgdata, passwordFile),
    REPLICATION_PASSFILE: path.join(c.run, "replication.pgpass"),
    ...hba,
  };
  const args = testServerSettings(c.files.dir, c.port, { hba_file: hba.HBA_FILE, unix_socket_directories: c.run });
  const child = c.files.spawn(script, ["postgres", ...args], env, c.logFile);
  const server = serverHandle(child, c.port, c.files.dir, c.pgdata, c.logFile, options.primary.superuserPassword);
  await waitForServer(server);
  return server;
}
