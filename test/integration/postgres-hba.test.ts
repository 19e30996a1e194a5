// init/scripts/postgres-hba.sh and the rules it writes (components/postgres-spec.ts pgHbaTemplate),
// against a real server. Inside a container the host's address on the app network and the internal
// network come from /proc/net/route; here a route table says the host is 127.0.0.2 and the internal
// network 127.0.1.0/24, and clients connect from chosen loopback addresses to stand for the host, a
// replica, and a container on the app network (127.0.0.9).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { HBA_SCRIPT, removeServerDir, startPrimary, testHbaEnv, type PgServer } from "../support/postgres";

const ROUTES = [
  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
  "eth1\t0001007F\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
  "eth0\t00000000\t0200007F\t0003\t0\t0\t0\t00000000\t0\t0\t0",
  "eth0\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0",
  "",
].join("\n");

const SUPERUSER_PASSWORD = "hba-Superuser-1234";
const REPLICATION_PASSWORD = "hba-Replicator-1234";
const APP_PASSWORD = "hba-App-1234";
const OWNER_PASSWORD = "hba-Owner-1234";

function renderHba(env: Record<string, string>, routes: string) {
  fs.writeFileSync(env.PROC_NET_ROUTE, routes);
  return spawnSync("bash", [HBA_SCRIPT], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
}

let server: PgServer;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startPrimary(SUPERUSER_PASSWORD, "hba");
  env = testHbaEnv(server.dir);
  const rendered = renderHba(env, ROUTES);
  expect(rendered.status, rendered.stderr).toBe(0);
  await server.asSuperuser("postgres", async (client) => {
    await client.query(`CREATE ROLE replicator LOGIN REPLICATION PASSWORD '${REPLICATION_PASSWORD}'`);
    await client.query(`CREATE ROLE trading_app LOGIN PASSWORD '${APP_PASSWORD}'`);
    await client.query(`CREATE ROLE trading_platform_owner LOGIN PASSWORD '${OWNER_PASSWORD}'`);
    await client.query("SELECT pg_reload_conf()");
  });
  // The reload is asynchronous: wait until the server reports the new rules.
  await server.asSuperuser("postgres", async (client) => {
    for (let i = 0; i < 50; i++) {
      const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_hba_file_rules WHERE address = '127.0.0.2'");
      if (rows[0].n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("the server never read the rendered pg_hba.conf");
  });
});
afterAll(async () => {
  await server?.stop();
  if (server) removeServerDir(server);
});

/** Connects from `from` (a loopback address); true, or the server's refusal. */
async function login(from: string, user: string, password: string, replication = false): Promise<true | string> {
  const fromAddress = () => {
    const socket = new net.Socket();
    const connect = socket.connect.bind(socket) as (options: net.TcpSocketConnectOpts) => net.Socket;
    return Object.assign(socket, { connect: (port: number, host: string) => connect({ port, host, localAddress: from }) });
  };
  const client = new Client({
    host: "127.0.0.1",
    port: server.port,
    user,
    password,
    database: replication ? undefined : "postgres",
    ...(replication ? { replication: "true" } : {}),
    stream: fromAddress,
  } as ConstructorParameters<typeof Client>[0]);
  try {
    await client.connect();
    await client.query(replication ? "IDENTIFY_SYSTEM" : "SELECT 1");
    return true;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe("pg_hba.conf written at start", () => {
  test("the script fills in the host's address and the internal network from the route table, whatever the interfaces' order", () => {
    const rules = fs.readFileSync(env.HBA_FILE, "utf8");
    expect(rules).toMatch(/^host\s+all\s+postgres,trading_platform_owner,trading_results_owner\s+127\.0\.0\.2\/32\s+scram-sha-256$/m);
    expect(rules).toMatch(/^host\s+replication\s+replicator\s+127\.0\.1\.0\/24\s+scram-sha-256$/m);
    expect(rules).not.toContain("@");
    expect((fs.statSync(env.HBA_FILE).mode & 0o777).toString(8)).toBe("644");
  });

  test("the superuser: from inside the server and from the host; refused from a container's address, with the right password", async () => {
    expect(await login("127.0.0.1", "postgres", SUPERUSER_PASSWORD)).toBe(true);
    expect(await login("127.0.0.2", "postgres", SUPERUSER_PASSWORD)).toBe(true);
    expect(await login("127.0.0.9", "postgres", SUPERUSER_PASSWORD)).toMatch(/pg_hba\.conf rejects connection for host "127\.0\.0\.9", user "postgres"/);
    expect(await login("127.0.1.5", "postgres", SUPERUSER_PASSWORD)).toMatch(/pg_hba\.conf rejects connection for host "127\.0\.1\.5", user "postgres"/);
  });

  test("replication: the replication role from the internal network only; nobody else, not even the superuser", async () => {
    expect(await login("127.0.1.5", "replicator", REPLICATION_PASSWORD, true)).toBe(true);
    expect(await login("127.0.0.9", "replicator", REPLICATION_PASSWORD, true)).toMatch(/rejects replication connection for host "127\.0\.0\.9", user "replicator"/);
    expect(await login("127.0.0.1", "postgres", SUPERUSER_PASSWORD, true)).toMatch(/rejects replication connection for host "127\.0\.0\.1", user "postgres"/);
  });

  test("a database owner (migrations, DDL): from inside the server and from the host only, like the superuser", async () => {
    expect(await login("127.0.0.1", "trading_platform_owner", OWNER_PASSWORD)).toBe(true);
    expect(await login("127.0.0.2", "trading_platform_owner", OWNER_PASSWORD)).toBe(true);
    expect(await login("127.0.0.9", "trading_platform_owner", OWNER_PASSWORD)).toMatch(/pg_hba\.conf rejects connection for host "127\.0\.0\.9", user "trading_platform_owner"/);
    expect(await login("127.0.1.5", "trading_platform_owner", OWNER_PASSWORD)).toMatch(/pg_hba\.conf rejects connection for host "127\.0\.1\.5", user "trading_platform_owner"/);
  });

  test("any other role: from anywhere, with its SCRAM password only", async () => {
    expect(await login("127.0.0.9", "trading_app", APP_PASSWORD)).toBe(true);
    expect(await login("127.0.0.9", "trading_app", "wrong-password-1234")).toMatch(/password authentication failed for user "trading_app"/);
  });

  test("a container without both networks: the script refuses, naming what is missing, and writes nothing", () => {
    const dir = fs.mkdtempSync(path.join(server.dir, "bad-"));
    const bad = { ...env, HBA_FILE: path.join(dir, "pg_hba.conf") };
    const header = ROUTES.split("\n")[0];
    const noDefault = renderHba(bad, [header, ROUTES.split("\n")[1], ""].join("\n"));
    expect(noDefault.status).not.toBe(0);
    expect(noDefault.stderr).toMatch(/no default route in .*routes: the container must be on the stack's app network/);
    const oneNetwork = renderHba(bad, [header, ...ROUTES.split("\n").slice(2)].join("\n"));
    expect(oneNetwork.status).not.toBe(0);
    expect(oneNetwork.stderr).toMatch(/no second network .*: the container must be on the stack's internal network too/);
    expect(fs.existsSync(bad.HBA_FILE)).toBe(false);
  });
});
