// Redis against a real redis-server started from the very redis.conf and ACL file the program
// uploads, and the init hook run from its serialised provider (what `pulumi up` ships).
import { spawnSync } from "child_process";
import * as fs from "fs";
import type Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mockPassword, plain, runProgram, serializedHook, type ProgramRun, type SerializedHook } from "../support/pulumi";
import { startRedisFromUploads, type RedisTestServer } from "../support/redis";

let run: ProgramRun;
let server: RedisTestServer;
let hook: SerializedHook;
const clients: Redis[] = [];
const password = (name: string) => mockPassword(name, 32);

async function login(user?: string, secret?: string): Promise<Redis> {
  const client = await server.client(user, secret);
  clients.push(client);
  return client;
}

/** Runs the hook's create against the test server, as `pulumi up` would. */
async function runHook(overrides: Record<string, unknown> = {}) {
  const { outs } = await hook.provider.create({ ...hook.inputs, host: "127.0.0.1", port: server.port, ...overrides });
  return outs;
}

beforeAll(async () => {
  run = await runProgram("dev");
  const container = plain(run.byName("trading-redis-server").inputs);
  server = await startRedisFromUploads(container.uploads, "/usr/local/etc/redis/redis.conf", "/data");
  hook = serializedHook(run.byName("trading-redis-init"));
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
  if (server) fs.rmSync(server.dir, { recursive: true, force: true });
});

describe("Redis ACL from the uploaded users.acl", () => {
  test("without a login nothing works, and the default user cannot log in at all", async () => {
    const anonymous = await login();
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    await expect(anonymous.get("config:trading")).rejects.toThrow(/NOAUTH/);
    await expect(login("default", "anything")).rejects.toThrow(/WRONGPASS|invalid username-password/);
    await expect(login("default", "")).rejects.toThrow();
  });

  test("the app user reads and writes the seed's key patterns and nothing else", async () => {
    const app = await login("trading_app", password("trading-secrets-redis-app-password"));
    for (const key of ["config:test", "exchanges:test", "session:abc", "price:BTC/USDT", "system:test"]) {
      expect(await app.set(key, "1", "EX", 60)).toBe("OK");
      expect(await app.get(key)).toBe("1");
      expect(await app.del(key)).toBe(1);
    }
    await expect(app.set("other:key", "1")).rejects.toThrow(/NOPERM/);
    await expect(app.get("secrets")).rejects.toThrow(/NOPERM/);
    // Dangerous commands are refused even on its own keys.
    await expect(app.flushall()).rejects.toThrow(/NOPERM/);
    await expect(app.keys("*")).rejects.toThrow(/NOPERM/);
    await expect(app.config("GET", "requirepass")).rejects.toThrow(/NOPERM/);
    await expect(app.call("ACL", "LIST")).rejects.toThrow(/NOPERM/);
  });

  test("the app user cannot see key names beyond its patterns, nor reach another database", async () => {
    const admin = await login("admin", password("trading-secrets-redis-admin-password"));
    await admin.set("secret:admin-only", "1");
    await admin.select(1);
    await admin.set("config:in-db-1", "1");
    const app = await login("trading_app", password("trading-secrets-redis-app-password"));
    expect(await app.set("session:mine", "1")).toBe("OK");
    await expect(app.scan("0")).rejects.toThrow(/NOPERM/);
    await expect(app.scan("0", "MATCH", "session:*")).rejects.toThrow(/NOPERM/);
    await expect(app.randomkey()).rejects.toThrow(/NOPERM/);
    await expect(app.dbsize()).rejects.toThrow(/NOPERM/);
    await expect(app.select(1)).rejects.toThrow(/NOPERM/);
    await expect(app.move("session:mine", 1)).rejects.toThrow(/NOPERM/);
    await expect(app.copy("session:mine", "session:copy", "DB", 1)).rejects.toThrow(/NOPERM/);
    await expect(app.swapdb(0, 1)).rejects.toThrow(/NOPERM/);
    // What a service does with its own keys still works.
    expect(await app.hset("exchanges:binance", "status", "up")).toBe(1);
    expect(await app.expire("session:mine", 60)).toBe(1);
    expect(await app.multi().incr("system:counter").get("system:counter").exec()).toEqual([[null, 1], [null, "1"]]);
    await app.del("session:mine", "exchanges:binance", "system:counter");
    await admin.del("config:in-db-1");
    await admin.select(0);
    await admin.del("secret:admin-only");
  });

  test("a wrong app password is refused", async () => {
    await expect(login("trading_app", "not-the-password")).rejects.toThrow(/WRONGPASS|invalid username-password/);
  });

  test("the healthcheck user may PING and nothing more; the container's healthcheck command passes, and fails with a wrong password", async () => {
    const health = await login("healthcheck", password("trading-secrets-redis-healthcheck-password"));
    expect(await health.ping()).toBe("PONG");
    await expect(health.get("config:trading")).rejects.toThrow(/NOPERM/);

    const container = plain(run.byName("trading-redis-server").inputs);
    const [kind, probe] = container.healthcheck.tests as string[];
    expect(kind).toBe("CMD-SHELL");
    // The probe waits for this check while the server starts (see components/container-spec.ts).
    const shell = probe.match(/until (.*); do /)![1];
    const passwordFile = "/run/secrets/redis-healthcheck-password";
    const local = shell.replace(passwordFile, server.localPath(passwordFile)).replace("-p 6379", `-p ${server.port}`);
    expect(spawnSync("sh", ["-c", local], { encoding: "utf8" }).status).toBe(0);
    fs.writeFileSync(`${server.dir}/wrong-password`, "wrong");
    const wrong = shell.replace(passwordFile, `${server.dir}/wrong-password`).replace("-p 6379", `-p ${server.port}`);
    expect(spawnSync("sh", ["-c", wrong], { encoding: "utf8" }).status).not.toBe(0);
  });

  test("persistence and memory settings come from the stack config: AOF on, maxmemory and its policy", async () => {
    const admin = await login("admin", password("trading-secrets-redis-admin-password"));
    expect(await admin.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
    expect(await admin.config("GET", "maxmemory")).toEqual(["maxmemory", String(256 * 1024 * 1024)]);
    expect(await admin.config("GET", "maxmemory-policy")).toEqual(["maxmemory-policy", "volatile-lru"]);
  });
});

describe("Redis init hook (serialised provider)", () => {
  test("seeds config:*, exchanges:config and system:* where absent, as JSON strings", async () => {
    const outs = await runHook();
    const expected = hook.inputs.seeds.map((s: { key: string }) => s.key);
    expect(outs.seededThisRun.sort()).toEqual([...expected].sort());
    expect(outs.keptExisting).toEqual([]);
    const app = await login("trading_app", password("trading-secrets-redis-app-password"));
    expect(JSON.parse((await app.get("exchanges:config"))!).binance.enabled).toBe(true);
    expect(JSON.parse((await app.get("system:trading_enabled"))!)).toBe(false);
    // Nothing outside the seedable patterns.
    const admin = await login("admin", password("trading-secrets-redis-admin-password"));
    for (const key of await admin.keys("*")) expect(key).toMatch(/^(config:|exchanges:config$|system:)/);
  });

  test("a re-run writes nothing, a value someone changed is kept, a deleted key comes back", async () => {
    const app = await login("trading_app", password("trading-secrets-redis-app-password"));
    await app.set("config:risk", JSON.stringify({ max_leverage: 3 }));
    await app.del("system:maintenance_mode");
    const outs = await runHook();
    expect(outs.seededThisRun).toEqual(["system:maintenance_mode"]);
    expect(outs.keptExisting).toContain("config:risk");
    expect(JSON.parse((await app.get("config:risk"))!)).toEqual({ max_leverage: 3 });
    const again = await runHook();
    expect(again.seededThisRun).toEqual([]);
  });

  test("data survives a restart (AOF on the data folder)", async () => {
    const app = await login("trading_app", password("trading-secrets-redis-app-password"));
    await app.set("session:persisted", "yes");
    await server.restart();
    const after = await server.client("trading_app", password("trading-secrets-redis-app-password"));
    clients.push(after);
    expect(await after.get("session:persisted")).toBe("yes");
    expect(fs.readdirSync(server.localPath("/data"))).toContain("appendonlydir");
  });

  test("a wrong admin password fails at once, naming the server", async () => {
    const started = Date.now();
    await expect(runHook({ password: "wrong" })).rejects.toThrow(new RegExp(`Redis admin@127\\.0\\.0\\.1:${server.port}: seeding failed after 1 attempt\\(s\\): .*WRONGPASS`));
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test("the provider keeps its password secret and re-runs on a new container", async () => {
    const resource = run.byName("trading-redis-init");
    expect(resource.options.additionalSecretOutputs).toContain("password");
    const olds = await runHook();
    const news = { ...hook.inputs, host: "127.0.0.1", port: server.port };
    expect((await hook.provider.diff("id", olds, news)).changes).toBe(false);
    expect((await hook.provider.diff("id", olds, { ...news, serverId: "another-container" })).changes).toBe(true);
  });
});
