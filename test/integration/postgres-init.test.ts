// The PostgreSQL init hook against a real server, run as `pulumi up` runs it: the provider is the
// `__provider` text Pulumi serialised for the dev stack's postgres-init resource, loaded with
// require-from-string and handler(), and its inputs are the ones the program gave it.
import { spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startPrimary, removeServerDir, type PgServer } from "../support/postgres";
import { ROOT, runProgram, serializedHook } from "../support/pulumi";
import { waitUntil } from "../support/wait";

let server: PgServer;
let provider: any;
let providerText: string;
let baseInputs: Record<string, any>;

beforeAll(async () => {
  const run = await runProgram("dev");
  ({ provider, providerText, inputs: baseInputs } = serializedHook(run.byName("trading-postgres-init")));
  server = await startPrimary(baseInputs.superuserPassword, "init");
});

afterAll(async () => {
  await server?.stop();
  if (server) removeServerDir(server);
});

function inputs(overrides: Record<string, any> = {}): Record<string, any> {
  return { ...structuredClone(baseInputs), host: "127.0.0.1", port: server.port, connectTimeoutSeconds: 10, lockTimeoutSeconds: 60, ...overrides };
}

/** Inputs with extra scripts appended to a database's migrations (or seeds). */
function withScript(kind: "migrations" | "seeds", database: string, version: string, name: string, sql: string, base = inputs()): Record<string, any> {
  const db = base.databases.find((d: any) => d.name === database);
  db[kind] = [
    ...db[kind].filter((s: any) => s.version !== version),
    { version, name, file: `init/postgres/${database}/${kind}/${version}_${name}.sql`, checksum: createHash("sha256").update(sql).digest("hex"), sql },
  ];
  return base;
}

function ownerPassword(database: string): string {
  return baseInputs.ownerPasswords[database];
}

async function asOwner<T>(database: string, work: (c: Client) => Promise<T>): Promise<T> {
  const owner = baseInputs.databases.find((d: any) => d.name === database).owner;
  const client = await server.connect(database, owner, ownerPassword(database));
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function asRole<T>(database: string, role: string, password: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = await server.connect(database, role, password);
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const databaseNamed = (name: string) => baseInputs.databases.find((d: any) => d.name === name);
const asService = <T>(database: string, work: (c: Client) => Promise<T>): Promise<T> =>
  asRole(database, databaseNamed(database).service, baseInputs.servicePasswords[database], work);
const asReadonly = <T>(database: string, work: (c: Client) => Promise<T>): Promise<T> => asRole(database, baseInputs.readonlyRole, baseInputs.readonlyPassword, work);

const asSuperuser = <T>(database: string, work: (c: Client) => Promise<T>): Promise<T> => server.asSuperuser(database, work);

/** Drops what the hook made, so a test starts from a fresh cluster. */
async function reset(): Promise<void> {
  await asSuperuser("postgres", async (c) => {
    for (const db of baseInputs.databases) await c.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
    for (const role of [...baseInputs.databases.flatMap((d: any) => [d.owner, d.service]), baseInputs.readonlyRole, baseInputs.replicationRole, baseInputs.adminToolsRole]) {
      await c.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });
}

async function tableExists(database: string, table: string): Promise<boolean> {
  return asSuperuser(database, async (c) => (await c.query("SELECT to_regclass($1) IS NOT NULL AS present", [table])).rows[0].present);
}

/** Everything a re-run could touch: recorded scripts, row versions of seeded rows, role verifiers and attributes, database ACLs. */
async function snapshot(): Promise<unknown> {
  const perDb: Record<string, unknown> = {};
  for (const db of baseInputs.databases) {
    perDb[db.name] = await asSuperuser(db.name, async (c) => ({
      recorded: (await c.query("SELECT kind, version, checksum, applied_at FROM schema_migrations ORDER BY kind, version")).rows,
      tables: (await c.query("SELECT relname, xmin::text FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY relname")).rows,
      strategies: db.name === "trading_platform" ? (await c.query("SELECT id, xmin::text, updated_at FROM strategies ORDER BY id")).rows : [],
    }));
  }
  const cluster = await asSuperuser("postgres", async (c) => ({
    roles: (await c.query("SELECT rolname, rolpassword, rolcanlogin, rolreplication, rolsuper, xmin::text FROM pg_authid WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname")).rows,
    databases: (await c.query("SELECT datname, datacl::text, xmin::text FROM pg_database ORDER BY datname")).rows,
  }));
  return { perDb, cluster };
}

/** Waits until a backend of `database` waits on an advisory lock (a run blocked behind another). */
async function waitForAdvisoryWaiter(database: string): Promise<void> {
  await waitUntil(
    () => asSuperuser("postgres", async (c) => Number((await c.query("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'advisory'", [database])).rows[0].count) > 0),
    20_000,
    () => `no run waiting on an advisory lock in ${database}`,
  );
}

/** Holds advisory lock 4242 in trading_platform: a migration that takes it waits until release. */
async function holdGate(): Promise<{ release(): Promise<void> }> {
  const client = await server.connect("trading_platform");
  await client.query("SELECT pg_advisory_lock(4242)");
  return {
    async release() {
      await client.query("SELECT pg_advisory_unlock(4242)");
      await client.end();
    },
  };
}

const GATED_SQL = "CREATE TABLE gated_step (id int);\nSELECT pg_advisory_xact_lock(4242);\nINSERT INTO gated_step VALUES (1);\n";

describe("postgres init hook, as pulumi up runs it", () => {
  test("pgAdmin's role reads every database and changes nothing; with the admin tools off it can no longer log in, and back on it can", async () => {
    await reset();
    expect(baseInputs.adminToolsRole).toBe("trading_admin_tools");
    await provider.create(inputs());
    const asTools = async <T>(database: string, work: (c: Client) => Promise<T>, password = baseInputs.adminToolsPassword): Promise<T> => {
      const client = await server.connect(database, baseInputs.adminToolsRole, password);
      try {
        return await work(client);
      } finally {
        await client.end();
      }
    };
    await asTools("trading_platform", async (c) => {
      expect(Number((await c.query("SELECT count(*) FROM strategies")).rows[0].count)).toBe(4);
      await expect(c.query("UPDATE strategies SET name = name")).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("CREATE TABLE mine (id int)")).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("DELETE FROM schema_migrations")).rejects.toMatchObject({ code: "42501" });
    });
    await asTools("trading_results", async (c) => {
      await expect(c.query("SELECT count(*) FROM simulation_runs")).resolves.toBeDefined();
    });
    const { rolsuper, rolcreaterole, rolcreatedb } = await asSuperuser("postgres", async (c) => (await c.query("SELECT * FROM pg_roles WHERE rolname = $1", [baseInputs.adminToolsRole])).rows[0]);
    expect({ rolsuper, rolcreaterole, rolcreatedb }).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false });

    const { adminToolsPassword: _, ...withoutTools } = inputs();
    await provider.create(withoutTools);
    await expect(asTools("trading_platform", async () => true)).rejects.toThrow(/not permitted to log in/);
    await provider.create(inputs());
    expect(await asTools("trading_platform", async () => true)).toBe(true);
  });

  test("the serialised provider creates roles, databases, schema and seed data", async () => {
    await reset();
    const result = await provider.create(inputs());
    expect(result.outs.migrations).toEqual({ trading_platform: ["0001"], trading_results: ["0001"] });
    expect(result.outs.appliedThisRun.trading_platform).toEqual(["migration 0001_initial_schema", "seed 0001_strategies"]);
    expect(result.outs.fingerprint).toMatch(/^[0-9a-f]{64}$/);

    await asOwner("trading_platform", async (c) => {
      const tables = (await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.tablename);
      expect(tables).toEqual(["positions", "schema_migrations", "strategies", "trades", "users"]);
      const views = (await c.query("SELECT viewname FROM pg_views WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.viewname);
      expect(views).toEqual(["daily_trade_volume", "open_positions", "strategy_trade_summary"]);
      expect(Number((await c.query("SELECT count(*) FROM strategies")).rows[0].count)).toBe(4);
      // Trades reference strategies, the updated_at trigger moves the timestamp, views compute.
      await c.query("INSERT INTO trades (symbol, side, quantity, price, exchange, strategy_id, executed_at) VALUES ('BTC/USDT', 'BUY', 1, 50000, 'binance', 'arbitrage-btc-usdt', now() - interval '1 hour')");
      const before = (await c.query("SELECT updated_at FROM trades")).rows[0].updated_at;
      await new Promise((r) => setTimeout(r, 20));
      await c.query("UPDATE trades SET fee = 5");
      expect((await c.query("SELECT updated_at FROM trades")).rows[0].updated_at.getTime()).toBeGreaterThan(before.getTime());
      const summary = (await c.query("SELECT trade_count, traded_notional FROM strategy_trade_summary WHERE strategy_id = 'arbitrage-btc-usdt'")).rows[0];
      expect(summary).toEqual({ trade_count: "1", traded_notional: "50000.00000000000000000000" });
      await expect(c.query("INSERT INTO trades (symbol, side, quantity, price, exchange) VALUES ('X', 'HOLD', 1, 1, 'binance')")).rejects.toThrow(/trades_side_check/);
    });
    await asOwner("trading_results", async (c) => {
      const tables = (await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.tablename);
      expect(tables).toEqual(["positions", "schema_migrations", "simulation_runs", "trades"]);
      const run = await c.query("INSERT INTO simulation_runs (algorithm_name, algorithm_version, initial_capital) VALUES ('mean-reversion', '1.2.0', 100000) RETURNING id");
      await c.query("INSERT INTO trades (simulation_run_id, symbol, side, quantity, price, executed_at) VALUES ($1, 'ETH/USDT', 'SELL', 2, 3000, now())", [run.rows[0].id]);
      expect((await c.query("SELECT trade_count FROM simulation_run_summary")).rows[0].trade_count).toBe("1");
    });
  });

  test("roles get least privilege: owners reach only their database, read-only cannot write", async () => {
    const ownerOfPlatform = baseInputs.databases.find((d: any) => d.name === "trading_platform").owner;
    await expect(server.connect("trading_results", ownerOfPlatform, ownerPassword("trading_platform"))).rejects.toThrow(/permission denied for database/);
    const readonly = await server.connect("trading_platform", baseInputs.readonlyRole, baseInputs.readonlyPassword);
    try {
      expect(Number((await readonly.query("SELECT count(*) FROM strategies")).rows[0].count)).toBeGreaterThan(0);
      await expect(readonly.query("INSERT INTO users (username, email) VALUES ('eve', 'eve@example.com')")).rejects.toMatchObject({ code: "42501" });
      await expect(readonly.query("CREATE TABLE sneaky (id int)")).rejects.toMatchObject({ code: "42501" });
    } finally {
      await readonly.end();
    }
    const roles = await asSuperuser("postgres", async (c) =>
      (await c.query("SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname", [
        [ownerOfPlatform, baseInputs.readonlyRole, baseInputs.replicationRole],
      ])).rows,
    );
    expect(roles).toEqual([
      { rolname: baseInputs.replicationRole, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolreplication: true },
      { rolname: ownerOfPlatform, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false },
      { rolname: baseInputs.readonlyRole, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false },
    ]);
    // The replication role streams WAL; it cannot open the application databases.
    await expect(server.connect("trading_platform", baseInputs.replicationRole, baseInputs.replicationPassword)).rejects.toThrow(/permission denied for database/);
  });

  test("the service role: DML on its tables, none on schema_migrations, no DDL, no TRUNCATE, no other database", async () => {
    await reset();
    await provider.create(inputs());
    await asService("trading_platform", async (c) => {
      await c.query("INSERT INTO users (username, email, password_hash) VALUES ('ann', 'ann@example.com', 'scrypt$x')");
      // It signs users in, so it reads their hashes.
      expect((await c.query("SELECT password_hash FROM users WHERE username = 'ann'")).rows).toEqual([{ password_hash: "scrypt$x" }]);
      await c.query("INSERT INTO trades (symbol, side, quantity, price, exchange, strategy_id, executed_at) VALUES ('BTC/USDT', 'BUY', 1, 50000, 'binance', 'arbitrage-btc-usdt', now())");
      await c.query("UPDATE trades SET fee = 1");
      expect(Number((await c.query("SELECT trade_count FROM strategy_trade_summary WHERE strategy_id = 'arbitrage-btc-usdt'")).rows[0].trade_count)).toBe(1);
      await c.query("DELETE FROM trades");
      await c.query("DELETE FROM users WHERE username = 'ann'");
      for (const refused of [
        "CREATE TABLE mine (id int)",
        "ALTER TABLE trades ADD COLUMN note text",
        "DROP TABLE positions",
        "TRUNCATE trades",
        "CREATE INDEX sneaky ON trades (fee)",
        "SELECT * FROM schema_migrations",
        "DELETE FROM schema_migrations",
      ]) {
        await expect(c.query(refused), refused).rejects.toMatchObject({ code: "42501" });
      }
    });
    await asService("trading_results", async (c) => {
      const run = await c.query("INSERT INTO simulation_runs (algorithm_name, algorithm_version, initial_capital) VALUES ('momentum', '1.0.0', 1000) RETURNING id");
      await c.query("INSERT INTO trades (simulation_run_id, symbol, side, quantity, price, executed_at) VALUES ($1, 'ETH/USDT', 'SELL', 2, 3000, now())", [run.rows[0].id]);
      await c.query("DELETE FROM simulation_runs WHERE id = $1", [run.rows[0].id]);
      await expect(c.query("DROP TABLE trades")).rejects.toMatchObject({ code: "42501" });
    });
    // Each service role reaches its own database only.
    await expect(server.connect("trading_results", databaseNamed("trading_platform").service, baseInputs.servicePasswords.trading_platform)).rejects.toThrow(/permission denied for database/);
    const attributes = await asSuperuser("postgres", async (c) =>
      (await c.query("SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname LIKE '%\\_app' ORDER BY rolname")).rows,
    );
    expect(attributes).toEqual(
      ["trading_platform_app", "trading_results_app"].map((rolname) => ({ rolname, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false, rolbypassrls: false })),
    );
  });

  test("the read-only role reads every column but the password hashes, on the tables of later migrations too", async () => {
    await asReadonly("trading_platform", async (c) => {
      expect(Number((await c.query("SELECT count(*) FROM users")).rows[0].count)).toBe(0);
      await expect(c.query("SELECT id, username, email, created_at FROM users")).resolves.toBeDefined();
      await expect(c.query("SELECT password_hash FROM users")).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("SELECT * FROM users")).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("SELECT * FROM trades")).resolves.toBeDefined();
      await expect(c.query("SELECT * FROM open_positions")).resolves.toBeDefined();
    });
    // A migration adds a table (with an identity column) and a column to users.
    const later = withScript("migrations", "trading_platform", "0002", "accounts", "CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text);\nALTER TABLE users ADD COLUMN display_name text;\n");
    await provider.update("id", {}, later);
    await asService("trading_platform", (c) => c.query("INSERT INTO accounts (label) VALUES ('main')"));
    await asReadonly("trading_platform", async (c) => {
      expect((await c.query("SELECT label FROM accounts")).rows).toEqual([{ label: "main" }]);
      await expect(c.query("SELECT display_name FROM users")).resolves.toBeDefined();
      await expect(c.query("INSERT INTO accounts (label) VALUES ('x')")).rejects.toMatchObject({ code: "42501" });
    });
    await reset();
  });

  test("a stack made before the service roles: the hook corrects the grants in place, and a second run changes nothing", async () => {
    await reset();
    await provider.create(inputs());
    // What an earlier release left: the read-only role with SELECT on the whole users table, and
    // rights a service should never have had.
    await asOwner("trading_platform", async (c) => {
      await c.query("REVOKE SELECT ON users FROM trading_readonly");
      await c.query("GRANT SELECT ON users TO trading_readonly");
      await c.query("GRANT TRUNCATE, REFERENCES ON trades TO trading_platform_app");
      await c.query("GRANT SELECT ON schema_migrations TO trading_platform_app");
    });
    await asReadonly("trading_platform", (c) => expect(c.query("SELECT password_hash FROM users")).resolves.toBeDefined());
    const again = await provider.update("id", {}, inputs());
    expect(again.outs.appliedThisRun).toEqual({ trading_platform: [], trading_results: [] });
    await asReadonly("trading_platform", async (c) => {
      await expect(c.query("SELECT password_hash FROM users")).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("SELECT username FROM users")).resolves.toBeDefined();
    });
    await asService("trading_platform", async (c) => {
      await expect(c.query("TRUNCATE trades")).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("SELECT * FROM schema_migrations")).rejects.toMatchObject({ code: "42501" });
    });
    const before = await snapshot();
    await provider.update("id", {}, inputs());
    expect(await snapshot()).toEqual(before);
  });

  test("a re-run changes nothing, and diff sees no change for the same inputs", async () => {
    const first = await provider.create(inputs());
    const before = await snapshot();
    const again = await provider.update("id", first.outs, inputs());
    expect(again.outs.appliedThisRun).toEqual({ trading_platform: [], trading_results: [] });
    expect(await snapshot()).toEqual(before);
    expect((await provider.diff("id", again.outs, inputs())).changes).toBe(false);
    expect((await provider.diff("id", again.outs, inputs({ hookVersion: "999" }))).changes).toBe(true);
  });

  test("a table an operator made as the superuser in a stack database does not stop a re-run; the read-only role gets only the owner's tables", async () => {
    await asSuperuser("trading_platform", (c) => c.query("CREATE TABLE operator_scratch (v int)"));
    try {
      const again = await provider.update("id", (await provider.create(inputs())).outs, inputs());
      expect(again.outs.appliedThisRun).toEqual({ trading_platform: [], trading_results: [] });
      const readable = await asSuperuser("trading_platform", async (c) =>
        (await c.query("SELECT has_table_privilege('trading_readonly', 'operator_scratch', 'SELECT') AS scratch, has_table_privilege('trading_readonly', 'strategies', 'SELECT') AS owned")).rows[0],
      );
      expect(readable).toEqual({ scratch: false, owned: true });
    } finally {
      await asSuperuser("trading_platform", (c) => c.query("DROP TABLE operator_scratch"));
    }
  });

  test("seed data never overwrites rows users edited; a changed seed only adds rows", async () => {
    await asOwner("trading_platform", (c) => c.query("UPDATE strategies SET name = 'edited by a user', is_active = true WHERE id = 'arbitrage-btc-usdt'"));
    const seed = baseInputs.databases.find((d: any) => d.name === "trading_platform").seeds[0];
    const grown = seed.sql.replace(
      "ON CONFLICT (id) DO NOTHING;",
      "ON CONFLICT (id) DO NOTHING;\nINSERT INTO strategies (id, name, strategy_type) VALUES ('mean-reversion-sol', 'SOL mean reversion', 'mean_reversion') ON CONFLICT (id) DO NOTHING;",
    );
    expect(grown).not.toBe(seed.sql);
    const result = await provider.update("id", {}, withScript("seeds", "trading_platform", seed.version, seed.name, grown));
    expect(result.outs.appliedThisRun.trading_platform).toEqual(["seed 0001_strategies"]);
    await asOwner("trading_platform", async (c) => {
      expect((await c.query("SELECT name, is_active FROM strategies WHERE id = 'arbitrage-btc-usdt'")).rows[0]).toEqual({ name: "edited by a user", is_active: true });
      expect(Number((await c.query("SELECT count(*) FROM strategies")).rows[0].count)).toBe(5);
    });
  });

  test("an applied migration whose file changed is refused with a clear error, and nothing else is applied", async () => {
    const base = inputs();
    const db = base.databases.find((d: any) => d.name === "trading_platform");
    const original = db.migrations[0];
    const edited = withScript("migrations", "trading_platform", original.version, original.name, `${original.sql}\n-- edited after it was applied\n`, base);
    const withNew = withScript("migrations", "trading_platform", "0002", "add_accounts", "CREATE TABLE accounts (id int);", edited);
    await expect(provider.update("id", {}, withNew)).rejects.toThrow(
      /database trading_platform: migrations refused, nothing was applied:[\s\S]*0001_initial_schema\.sql was applied on .* with checksum [0-9a-f]{64}, but the file now has checksum [0-9a-f]{64}\. An applied migration must not change/,
    );
    expect(await tableExists("trading_platform", "accounts")).toBe(false);
  });

  test("a migration numbered below an applied one is refused", async () => {
    const applied = withScript("migrations", "trading_results", "0003", "later", "CREATE TABLE later_table (id int);");
    await provider.update("id", {}, applied);
    const outOfOrder = withScript("migrations", "trading_results", "0002", "earlier", "CREATE TABLE earlier_table (id int);", structuredClone(applied));
    await expect(provider.update("id", {}, outOfOrder)).rejects.toThrow(/0002_earlier\.sql is numbered below migration 0003, which is already applied/);
    expect(await tableExists("trading_results", "earlier_table")).toBe(false);
  });

  test("a failing migration is rolled back whole, and the error names the file and line", async () => {
    const broken = withScript("migrations", "trading_platform", "0002", "broken", "CREATE TABLE first_half (id int);\n\nSELEC oops;\n");
    await expect(provider.update("id", {}, broken)).rejects.toThrow(/database trading_platform: migration init\/postgres\/trading_platform\/migrations\/0002_broken\.sql failed and was rolled back \(line 3\): syntax error/);
    expect(await tableExists("trading_platform", "first_half")).toBe(false);
  });

  test("two concurrent runs serialise: one applies, the other waits and then finds nothing to do", async () => {
    await reset();
    await provider.create(inputs());
    const gated = withScript("migrations", "trading_platform", "0002", "gated", GATED_SQL);
    const gate = await holdGate();
    const first = provider.update("id", {}, gated);
    await waitForAdvisoryWaiter("trading_platform"); // the first run is inside 0002, holding the init lock
    const second = provider.update("id", {}, structuredClone(gated));
    await waitForAdvisoryWaiter("postgres"); // the second waits for the init lock
    expect(await tableExists("trading_platform", "gated_step")).toBe(false);
    await gate.release();
    const results = await Promise.all([first, second]);
    const applied = results.map((r: any) => r.outs.appliedThisRun.trading_platform);
    expect(applied).toEqual([["migration 0002_gated"], []]);
    const recorded = await asSuperuser("trading_platform", (c) => c.query("SELECT count(*) FROM schema_migrations WHERE version = '0002'"));
    expect(Number(recorded.rows[0].count)).toBe(1);
  });

  test("a run killed in the middle of a migration leaves nothing half-applied, and the next run completes", async () => {
    const gated = withScript("migrations", "trading_platform", "0003", "gated_again", GATED_SQL.replace(/gated_step/g, "gated_again"));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-kill-"));
    fs.writeFileSync(path.join(dir, "provider.js"), providerText);
    fs.writeFileSync(path.join(dir, "inputs.json"), JSON.stringify(gated));
    const gate = await holdGate();
    const child = spawn(process.execPath, [path.join(ROOT, "test/support/run-hook.cjs"), path.join(dir, "provider.js"), path.join(dir, "inputs.json")], {
      cwd: ROOT,
      stdio: "ignore",
    });
    const exited = new Promise((r) => child.once("exit", r));
    await waitForAdvisoryWaiter("trading_platform"); // inside 0003: its table exists in the open transaction
    child.kill("SIGKILL");
    await exited;
    // The server notices the dead client (client_connection_check_interval) and rolls back.
    await waitUntil(
      () => asSuperuser("postgres", async (c) => Number((await c.query("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'trading-db-stack%'")).rows[0].count) === 0),
      15_000,
      () => "the killed run's sessions are still on the server",
    );
    await gate.release();
    expect(await tableExists("trading_platform", "gated_again")).toBe(false);
    const recorded = await asSuperuser("trading_platform", (c) => c.query("SELECT count(*) FROM schema_migrations WHERE version = '0003'"));
    expect(Number(recorded.rows[0].count)).toBe(0);

    const rerun = await provider.update("id", {}, gated);
    expect(rerun.outs.appliedThisRun.trading_platform).toEqual(["migration 0003_gated_again"]);
    await asOwner("trading_platform", async (c) => expect((await c.query("SELECT id FROM gated_again")).rows).toEqual([{ id: 1 }]));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a wrong superuser password fails on the first attempt with the server's reason", async () => {
    await expect(provider.create(inputs({ superuserPassword: "wrong", connectTimeoutSeconds: 30 }))).rejects.toThrow(
      /PostgreSQL postgres@127\.0\.0\.1:\d+\/postgres: cannot connect after 1 attempt\(s\): password authentication failed/,
    );
  });
});
