// The PostgreSQL init hook as prod runs it on CloudNativePG (managedBy: the operator makes the roles
// and databases): the provider Pulumi serialised for the prod stack, against a real server on which
// this test does the operator's part (roles with their passwords, initdb's database, a Database
// object's). The hook logs in as each owner only, waits for what the operator has not made yet,
// and applies migrations, seeds, read-only grants and who may connect.
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { removeServerDir, startPrimary, type PgServer } from "../support/postgres";
import { runProgram, serializedHook, type SerializedHook } from "../support/pulumi";

let server: PgServer;
let hook: SerializedHook;

/** The hook's inputs, reaching the test server directly (the port-forward is tested in port-forward.test.ts). */
function inputs(overrides: Record<string, unknown> = {}): Record<string, any> {
  const { kubernetes: _tunnel, ...rest } = structuredClone(hook.inputs);
  return { ...rest, host: "127.0.0.1", port: server.port, connectTimeoutSeconds: 15, lockTimeoutSeconds: 30, ...overrides };
}

const asSuperuser = <T>(database: string, work: (c: Client) => Promise<T>): Promise<T> => server.asSuperuser(database, work);

/** What CloudNativePG does for a managed role with a passwordSecret, and for a Database object. */
async function operatorMakes(role: string, password: string, database?: string): Promise<void> {
  await asSuperuser("postgres", async (c) => {
    await c.query(`CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`);
    if (database) await c.query(`CREATE DATABASE "${database}" OWNER "${role}" ENCODING 'UTF8' TEMPLATE template0`);
  });
}

beforeAll(async () => {
  // In clear (tls off): the hook's work on CloudNativePG's objects. Over TLS: postgres-tls.test.ts.
  const run = await runProgram("prod", { tls: "false" });
  hook = serializedHook(run.byName("trading-postgres-init"));
  server = await startPrimary("the-operator-s-own-superuser-password", "cloudnative-pg");
});

afterAll(async () => {
  await server?.stop();
  if (server) removeServerDir(server);
});

describe("PostgreSQL init hook on CloudNativePG (managedBy)", () => {
  test("carries no superuser or replication credentials at all", () => {
    expect(hook.inputs.managedBy).toBe("cloudnative-pg");
    for (const key of ["superuser", "superuserPassword", "replicationRole", "replicationPassword", "readonlyPassword"]) expect(hook.inputs[key], key).toBeUndefined();
  });

  test("waits while the operator has not made a role or database yet, then applies everything as each owner", async () => {
    const owners = hook.inputs.ownerPasswords;
    // initdb made trading_platform with its owner; the service, read-only roles and trading_results come a moment later.
    await operatorMakes("trading_platform_owner", owners.trading_platform, "trading_platform");
    const later = new Promise((resolve) => setTimeout(resolve, 1_500)).then(async () => {
      await operatorMakes("trading_platform_app", "platform-service-password-of-the-secret");
      await operatorMakes("trading_results_app", "results-service-password-of-the-secret");
      await operatorMakes("trading_readonly", "readonly-password-of-the-secret");
      await operatorMakes("trading_results_owner", owners.trading_results, "trading_results");
    });
    const [{ outs }] = await Promise.all([hook.provider.create(inputs()), later]);
    expect(outs.migrations).toEqual({ trading_platform: ["0001"], trading_results: ["0001"] });
    for (const db of ["trading_platform", "trading_results"]) {
      const facts = await asSuperuser(db, async (c) => ({
        appliedBy: (await c.query("SELECT DISTINCT applied_by FROM schema_migrations")).rows.map((r) => r.applied_by),
        publicConnect: (await c.query("SELECT has_database_privilege('public', current_database(), 'CONNECT') AS ok")).rows[0].ok,
        readonlyConnect: (await c.query("SELECT has_database_privilege('trading_readonly', current_database(), 'CONNECT') AS ok")).rows[0].ok,
        readonlySelects: (await c.query("SELECT bool_and(has_table_privilege('trading_readonly', c.oid, 'SELECT')) AS ok FROM pg_class c WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname NOT IN ('schema_migrations', 'users')")).rows[0].ok,
        // users.password_hash is the one column the read-only role must not read (it reads users' others).
        readonlyReadsHashes: (await c.query("SELECT coalesce(bool_or(has_column_privilege('trading_readonly', a.attrelid, a.attnum, 'SELECT')), false) AS ok FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'public'::regnamespace AND a.attname = 'password_hash'")).rows[0].ok,
        serviceConnect: (await c.query("SELECT has_database_privilege($1, current_database(), 'CONNECT') AS ok", [`${db}_app`])).rows[0].ok,
        serviceWrites: (await c.query("SELECT bool_and(has_table_privilege($1, c.oid, 'INSERT,UPDATE,DELETE')) AS ok FROM pg_class c WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname <> 'schema_migrations'", [`${db}_app`])).rows[0].ok,
        serviceOnMigrations: (await c.query("SELECT has_table_privilege($1, 'schema_migrations', 'SELECT,INSERT,UPDATE,DELETE') AS ok", [`${db}_app`])).rows[0].ok,
      }));
      expect(facts, db).toEqual({ appliedBy: [`${db}_owner`], publicConnect: false, readonlyConnect: true, readonlySelects: true, readonlyReadsHashes: false, serviceConnect: true, serviceWrites: true, serviceOnMigrations: false });
    }
  });

  test("a re-run applies nothing", async () => {
    const { outs } = await hook.provider.create(inputs());
    expect(outs.appliedThisRun).toEqual({ trading_platform: [], trading_results: [] });
  });

  test("a password the operator never applies fails after the hook's time, saying so", async () => {
    const started = Date.now();
    const wrong = { ...hook.inputs.ownerPasswords, trading_results: "not-what-the-operator-applied" };
    await expect(hook.provider.create(inputs({ ownerPasswords: wrong, connectTimeoutSeconds: 2 }))).rejects.toThrow(
      /PostgreSQL trading_results_owner@127\.0\.0\.1:\d+\/trading_results: cannot connect after \d+ attempt\(s\): password authentication failed/,
    );
    expect(Date.now() - started).toBeGreaterThan(1_500);
  });
});
