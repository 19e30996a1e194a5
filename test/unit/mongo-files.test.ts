import * as fs from "fs";
import { afterEach, describe, expect, test } from "vitest";
import { loadMongoFiles } from "../../init/mongo/files";
import { loadRedisSeeds } from "../../init/redis/files";
import { tempProject } from "../support/files";
import { ROOT } from "../support/pulumi";

let root = "";
afterEach(() => root && fs.rmSync(root, { recursive: true, force: true }));

const migration = (steps: unknown[]) => JSON.stringify({ steps });
const seed = (upserts: unknown[]) => JSON.stringify({ upserts });
function load(files: Record<string, string>) {
  root = tempProject({ "init/mongo/db/seeds/.keep": "", ...files });
  fs.rmSync(`${root}/init/mongo/db/seeds/.keep`);
  return loadMongoFiles(root, "db", "init/mongo/db");
}
const ok = migration([{ collection: "c", validator: { $jsonSchema: { bsonType: "object" } } }]);

describe("MongoDB migration and seed files", () => {
  test("the project's own files load: one migration, one seed", () => {
    const files = loadMongoFiles(ROOT, "trading_configs", "init/mongo/trading_configs");
    expect(files.migrations.map((m) => m.file)).toEqual(["init/mongo/trading_configs/migrations/0001_collections.json"]);
    expect(files.seeds.map((m) => m.file)).toEqual(["init/mongo/trading_configs/seeds/0001_defaults.json"]);
  });

  test.each<[string, Record<string, string>, RegExp]>([
    ["no migration", {}, /init\/mongo\/db\/migrations: (folder is missing|no migrations for database db)/],
    ["not JSON", { "init/mongo/db/migrations/0001_a.json": "{ steps: [" }, /0001_a\.json: not valid Extended JSON/],
    ["bad file name", { "init/mongo/db/migrations/1_a.json": ok }, /1_a\.json: file name must be NNNN_name\.json/],
    ["empty steps", { "init/mongo/db/migrations/0001_a.json": migration([]) }, /0001_a\.json: "steps" must be a non-empty array/],
    ["two kinds in a step", { "init/mongo/db/migrations/0001_a.json": migration([{ collection: "c", index: "c", validator: {} }]) }, /step 1: must have exactly one of/],
    ["unknown field", { "init/mongo/db/migrations/0001_a.json": migration([{ collection: "c", validator: {}, capped: true }]) }, /step 1: unknown field "capped"/],
    ["bad index direction", { "init/mongo/db/migrations/0001_a.json": migration([{ index: "c", name: "i", key: { a: "up" } }]) }, /step 1: key "a" must be 1, -1/],
    ["index without name", { "init/mongo/db/migrations/0001_a.json": migration([{ index: "c", key: { a: 1 } }]) }, /step 1: "name" must be the index name/],
    ["bad validation level", { "init/mongo/db/migrations/0001_a.json": migration([{ collection: "c", validator: {}, validationLevel: "lax" }]) }, /"validationLevel" must be off, strict or moderate/],
    [
      "seed document without its natural key",
      { "init/mongo/db/migrations/0001_a.json": ok, "init/mongo/db/seeds/0001_s.json": seed([{ collection: "c", naturalKey: ["name"], documents: [{ other: 1 }] }]) },
      /0001_s\.json: upsert 1, document 1: lacks natural key field name/,
    ],
    [
      "seed natural key twice",
      { "init/mongo/db/migrations/0001_a.json": ok, "init/mongo/db/seeds/0001_s.json": seed([{ collection: "c", naturalKey: ["name"], documents: [{ name: "a" }, { name: "a" }] }]) },
      /document 2: natural key \["a"\] appears twice/,
    ],
  ])("refused: %s", (_name, files, message) => {
    expect(() => load(files)).toThrow(message);
  });
});

describe("Redis seed file", () => {
  test("the project's file seeds only config:*, exchanges:config and system:* keys, as JSON strings", () => {
    const seeds = loadRedisSeeds(ROOT);
    expect(seeds.keys.length).toBeGreaterThan(0);
    for (const { key, value } of seeds.keys) {
      expect(key).toMatch(/^(config:.+|exchanges:config|system:.+)$/);
      expect(() => JSON.parse(value)).not.toThrow();
    }
  });

  test.each<[string, string, RegExp]>([
    ["a key the hook may not seed", JSON.stringify({ keys: { "session:abc": 1 } }), /key "session:abc" may not be seeded; allowed: config:\*, exchanges:config, system:\*/],
    ["exchanges:* other than exchanges:config", JSON.stringify({ keys: { "exchanges:binance": 1 } }), /key "exchanges:binance" may not be seeded/],
    ["not JSON", "{", /seeds\.json: not valid JSON/],
    ["no keys object", JSON.stringify({ keys: [] }), /must hold \{"keys"/],
  ])("refused: %s", (_name, text, message) => {
    root = tempProject({ "init/redis/seeds.json": text });
    expect(() => loadRedisSeeds(root)).toThrow(message);
  });
});
