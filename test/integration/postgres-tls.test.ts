// PostgreSQL with `tls` on, against real servers (this machine's PostgreSQL 15, built with
// OpenSSL): the primary with the containers' TLS settings and pg_hba.conf, certificates from a test
// CA (made with openssl as @pulumi/tls makes the stack's). The dev stack's serialised hooks (tls on)
// verify the server against the CA; a wrong CA, or a certificate without the address, is refused;
// a connection without TLS is refused by pg_hba; a replica streams over verified TLS.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Client } from "pg";
import { startPrimary, startReplica, removeServerDir, type PgServer } from "../support/postgres";
import { requireBuilt, runProgram, serializedHook, type ProgramRun } from "../support/pulumi";
import { CERTIFICATE_REFUSED, issueTestCert, makeTestCa, type TestCa } from "../support/tls";
import * as fs from "fs";
import { waitUntil } from "../support/wait";

let run: ProgramRun;
let ca: TestCa;
let stranger: TestCa;
let primary: PgServer;
const cleanup: PgServer[] = [];

beforeAll(async () => {
  run = await runProgram("dev", { tls: "true", postgresReplicas: "1" });
  ca = makeTestCa("stack");
  stranger = makeTestCa("stranger");
  const superuserPassword = serializedHook(run.byName("trading-postgres-init")).inputs.superuserPassword;
  primary = await startPrimary(superuserPassword, "tls-primary", { tls: ca });
  cleanup.push(primary);
}, 120_000);

afterAll(async () => {
  for (const server of cleanup.reverse()) {
    await server.stop().catch(() => undefined);
    removeServerDir(server);
  }
});

/** The hook's inputs, aimed at the test primary, with the test CA in place of the stack's. */
function hookInputs(name: string, overrides: Record<string, unknown> = {}): { hook: ReturnType<typeof serializedHook>; inputs: Record<string, any> } {
  const hook = serializedHook(run.byName(name));
  return { hook, inputs: { ...hook.inputs, host: "127.0.0.1", port: primary.port, connectTimeoutSeconds: 5, lockTimeoutSeconds: 30, tlsCa: ca.pem, ...overrides } };
}

/** What a login says: "ok", or the error's message. */
async function attempt(options: Record<string, unknown>): Promise<string> {
  const client = new Client({ host: "127.0.0.1", port: primary.port, user: "postgres", password: primary.superuserPassword, database: "postgres", connectionTimeoutMillis: 5000, ...options });
  try {
    await client.connect();
    const { rows } = await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    return rows[0].ssl ? "ok over TLS" : "ok in clear";
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe("PostgreSQL with tls (Docker's settings on a real server)", () => {
  test("every network login must use TLS: pg_hba refuses one in clear before any password is asked", async () => {
    expect(await attempt({ ssl: { ca: ca.pem, rejectUnauthorized: true } })).toBe("ok over TLS");
    expect(await attempt({ ssl: false })).toMatch(/pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "postgres", database "postgres", no encryption/);
  });

  test("a client verifying against another CA is refused, and so is a certificate without the address connected to", async () => {
    expect(await attempt({ ssl: { ca: stranger.pem, rejectUnauthorized: true } })).toMatch(CERTIFICATE_REFUSED);
    // A server whose certificate names only its container name: reached at 127.0.0.1, which is not
    // in it, the connection is refused; checked for the name it holds, the same server is accepted.
    const named = await startPrimary(primary.superuserPassword, "tls-named", { tls: ca, tlsDnsName: "trading-postgres" });
    cleanup.push(named);
    expect(await attempt({ port: named.port, ssl: { ca: ca.pem, rejectUnauthorized: true } })).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list/);
    expect(await attempt({ port: named.port, ssl: { ca: ca.pem, rejectUnauthorized: true, servername: "trading-postgres" } })).toBe("ok over TLS");
  }, 60_000);

  test("the init hook (serialised, tls on) makes the roles and databases over verified TLS; with another CA it fails naming the certificate", async () => {
    const { hook, inputs } = hookInputs("trading-postgres-init");
    const outs = (await hook.provider.create(inputs)).outs;
    expect(Object.keys(outs.migrations).sort()).toEqual(["trading_platform", "trading_results"]);
    // The service role logs in over TLS too.
    const service = inputs.databases.find((d: any) => d.name === "trading_platform");
    const login = new Client({ host: "127.0.0.1", port: primary.port, user: service.service, password: inputs.servicePasswords.trading_platform, database: "trading_platform", ssl: { ca: ca.pem, rejectUnauthorized: true } });
    await login.connect();
    expect((await login.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0].ssl).toBe(true);
    await login.end();
    await expect(hook.provider.create({ ...inputs, tlsCa: stranger.pem })).rejects.toThrow(/cannot connect after 1 attempt\(s\): (self[- ]signed certificate in certificate chain|unable to verify|unable to get local issuer)/);
  });

  test("a replica takes its base backup and streams over TLS, verifying the primary; against another CA it stops, saying why", async () => {
    const { hook, inputs } = hookInputs("trading-postgres-replica-1-slot");
    await hook.provider.create(inputs);
    const replicationPassword = hookInputs("trading-postgres-init").inputs.replicationPassword;
    const replica = await startReplica({ primary, slot: inputs.slotName, replicationUser: "replicator", replicationPassword, tls: { ca, primaryCaFile: ca.certFile } });
    cleanup.push(replica);
    const streamsOverTls = async () =>
      primary.asSuperuser("postgres", async (c) => (await c.query("SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.state = 'streaming'")).rows.map((r) => r.ssl));
    await waitUntil(async () => JSON.stringify(await streamsOverTls()) === "[true]", 30_000, () => `no streaming over TLS:\n${replica.log()}`, 200);

    const check = hookInputs("trading-postgres-replica-1-check", { primaryHost: "127.0.0.1", primaryPort: primary.port, replicaHost: "127.0.0.1", replicaPort: replica.port, timeoutSeconds: 20 });
    expect((await check.hook.provider.create(check.inputs)).outs.streamingState).toBe("streaming");

    // A replica told to trust another CA never copies anything from the primary.
    await expect(startReplica({ primary, slot: inputs.slotName, replicationUser: "replicator", replicationPassword, tls: { ca, primaryCaFile: stranger.certFile, waitSeconds: 3 } })).rejects.toThrow(
      /did not accept connections within 3s: .*certificate verify failed/,
    );
  }, 120_000);

  test("npm run verify verifies against the CA in the outputs, not the file the URI names (absent on this machine)", async () => {
    const { postgresClientConfig } = requireBuilt("tools/verify.js");
    const uri = `postgresql://postgres:${primary.superuserPassword}@127.0.0.1:${primary.port}/postgres?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt`;
    const login = async (caCertificate: string) => {
      const client = new Client({ ...postgresClientConfig(uri, { caCertificate, caFile: "/nonexistent/ca.crt" }), connectionTimeoutMillis: 5000 });
      try {
        await client.connect();
        return (await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0].ssl ? "ok over TLS" : "ok in clear";
      } catch (error) {
        return (error as Error).message;
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    expect(await login(ca.pem)).toBe("ok over TLS");
    expect(await login(stranger.pem)).toMatch(CERTIFICATE_REFUSED);
    // A stack without tls: the URI as it is.
    expect(postgresClientConfig("postgresql://u:p@127.0.0.1:5432/db", null)).toEqual({ connectionString: "postgresql://u:p@127.0.0.1:5432/db" });
  });

  test("on CloudNativePG the hook waits while the instance still shows its former certificate (tls just turned on), until the operator reloads the stack's", async () => {
    const prod = await runProgram("prod", { tls: "true" });
    const hook = serializedHook(prod.byName("trading-postgres-init"));
    expect(hook.inputs.managedBy).toBe("cloudnative-pg");
    // The instance as the operator ran it before: its own CA's certificate (here the stranger's).
    const instance = await startPrimary("the-operator-s-own-superuser-password", "tls-cnpg", { tls: stranger });
    cleanup.push(instance);
    await instance.asSuperuser("postgres", async (c) => {
      for (const db of hook.inputs.databases) {
        await c.query(`CREATE ROLE "${db.owner}" LOGIN PASSWORD '${hook.inputs.ownerPasswords[db.name]}'`);
        await c.query(`CREATE DATABASE "${db.name}" OWNER "${db.owner}" ENCODING 'UTF8' TEMPLATE template0`);
        await c.query(`CREATE ROLE "${db.service}" LOGIN`);
      }
      await c.query(`CREATE ROLE "${hook.inputs.readonlyRole}" LOGIN`);
    });
    const { kubernetes: _tunnel, ...inputs } = hook.inputs;
    const run = hook.provider.create({ ...inputs, host: "127.0.0.1", port: instance.port, connectTimeoutSeconds: 30, lockTimeoutSeconds: 30, tlsCa: ca.pem });
    const settled = run.then(() => "done", (error: Error) => error.message);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await Promise.race([settled, Promise.resolve("waiting")])).toBe("waiting");
    // The operator writes the stack's certificate in place and reloads.
    const renewed = issueTestCert(ca, instance.dir, "server", { dns: ["localhost"], ips: ["127.0.0.1"] });
    const owner = fs.statSync(instance.dir);
    for (const file of [renewed.certFile, renewed.keyFile]) {
      fs.chmodSync(file, 0o600);
      fs.chownSync(file, owner.uid, owner.gid);
    }
    const reload = new Client({ host: "127.0.0.1", port: instance.port, user: "postgres", password: instance.superuserPassword, database: "postgres", ssl: { rejectUnauthorized: false } });
    await reload.connect();
    await reload.query("SELECT pg_reload_conf()");
    await reload.end();
    expect(await settled).toBe("done");
    expect(Object.keys((await run).outs.migrations).sort()).toEqual(["trading_platform", "trading_results"]);
  }, 90_000);
});
