// Reads MongoDB's versioned JSON files at program time and refuses, before any resource exists,
// anything the init hook could not apply. Files: <folder>/migrations/NNNN_name.json and
// <folder>/seeds/NNNN_name.json, in MongoDB Extended JSON (so a seed may hold {"$date": ...}).
//
// A migration is a list of steps, each idempotent, so a run interrupted half-way re-applies the
// whole file safely (MongoDB has no transactional DDL):
//   {"collection": name, "validator": {...}, "validationLevel"?, "validationAction"?}  create, or collMod to this validator
//   {"index": collection, "name": name, "key": {...}, "unique"?, "expireAfterSeconds"?, "partialFilterExpression"?}
//   {"dropIndex": collection, "name": name}
// A seed upserts documents on a natural key with $setOnInsert, so it never overwrites a document:
//   {"upserts": [{"collection": name, "naturalKey": ["field", ...], "documents": [...]}]}
import * as path from "path";
import { BSON } from "mongodb";
import { loadVersionedFolder, relativePath, ScriptFileError, type VersionedFile } from "../versioned-files";

export interface MongoDatabaseFiles {
  database: string;
  migrations: VersionedFile[];
  seeds: VersionedFile[];
}

export function loadMongoFiles(projectRoot: string, database: string, folder: string): MongoDatabaseFiles {
  const base = path.join(projectRoot, folder);
  const migrations = loadVersionedFolder(projectRoot, path.join(base, "migrations"), "json");
  if (migrations.length === 0) {
    throw new ScriptFileError(`${relativePath(projectRoot, path.join(base, "migrations"))}: no migrations for database ${database}; add 0001_<name>.json`);
  }
  const seeds = loadVersionedFolder(projectRoot, path.join(base, "seeds"), "json");
  for (const m of migrations) checkMigration(m);
  for (const s of seeds) checkSeed(s);
  return { database, migrations, seeds };
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,119}$/;

function parse(file: VersionedFile): Record<string, unknown> {
  let value: unknown;
  try {
    // Relaxed: plain numbers, for the checks below (the hook parses canonically, keeping 2.0 a double).
    value = BSON.EJSON.parse(file.text, { relaxed: true });
  } catch (error) {
    throw new ScriptFileError(`${file.file}: not valid Extended JSON: ${(error as Error).message}`);
  }
  if (!isObject(value)) throw new ScriptFileError(`${file.file}: must hold a JSON object`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkKeys(where: string, value: Record<string, unknown>, allowed: string[]): void {
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new ScriptFileError(`${where}: unknown field ${unknown.map((k) => `"${k}"`).join(", ")}; allowed: ${allowed.join(", ")}`);
}

function checkMigration(file: VersionedFile): void {
  const doc = parse(file);
  checkKeys(file.file, doc, ["description", "steps"]);
  if (!Array.isArray(doc.steps) || doc.steps.length === 0) throw new ScriptFileError(`${file.file}: "steps" must be a non-empty array`);
  doc.steps.forEach((step, i) => {
    const where = `${file.file}: step ${i + 1}`;
    if (!isObject(step)) throw new ScriptFileError(`${where}: must be an object`);
    const kind = ["collection", "index", "dropIndex"].filter((k) => k in step);
    if (kind.length !== 1) throw new ScriptFileError(`${where}: must have exactly one of "collection", "index", "dropIndex"`);
    const target = step[kind[0]];
    if (typeof target !== "string" || !NAME.test(target)) throw new ScriptFileError(`${where}: "${kind[0]}" must be a collection name`);
    if (kind[0] === "collection") {
      checkKeys(where, step, ["collection", "validator", "validationLevel", "validationAction"]);
      if (!isObject(step.validator)) throw new ScriptFileError(`${where}: "validator" must be an object, e.g. {"$jsonSchema": {...}}`);
      if (step.validationLevel !== undefined && !["off", "strict", "moderate"].includes(step.validationLevel as string)) {
        throw new ScriptFileError(`${where}: "validationLevel" must be off, strict or moderate`);
      }
      if (step.validationAction !== undefined && !["error", "warn"].includes(step.validationAction as string)) {
        throw new ScriptFileError(`${where}: "validationAction" must be error or warn`);
      }
    } else if (kind[0] === "index") {
      checkKeys(where, step, ["index", "name", "key", "unique", "expireAfterSeconds", "partialFilterExpression"]);
      if (typeof step.name !== "string" || step.name === "") throw new ScriptFileError(`${where}: "name" must be the index name`);
      const key = step.key;
      if (!isObject(key) || Object.keys(key).length === 0) throw new ScriptFileError(`${where}: "key" must be a non-empty object, e.g. {"field": 1}`);
      for (const [field, direction] of Object.entries(key)) {
        if (![1, -1, "text", "hashed", "2dsphere"].includes(direction as never)) {
          throw new ScriptFileError(`${where}: key "${field}" must be 1, -1, "text", "hashed" or "2dsphere"`);
        }
      }
      if (step.unique !== undefined && typeof step.unique !== "boolean") throw new ScriptFileError(`${where}: "unique" must be true or false`);
    } else {
      checkKeys(where, step, ["dropIndex", "name"]);
      if (typeof step.name !== "string" || step.name === "") throw new ScriptFileError(`${where}: "name" must be the index name`);
    }
  });
}

function checkSeed(file: VersionedFile): void {
  const doc = parse(file);
  checkKeys(file.file, doc, ["description", "upserts"]);
  if (!Array.isArray(doc.upserts) || doc.upserts.length === 0) throw new ScriptFileError(`${file.file}: "upserts" must be a non-empty array`);
  doc.upserts.forEach((entry, i) => {
    const where = `${file.file}: upsert ${i + 1}`;
    if (!isObject(entry)) throw new ScriptFileError(`${where}: must be an object`);
    checkKeys(where, entry, ["collection", "naturalKey", "documents"]);
    if (typeof entry.collection !== "string" || !NAME.test(entry.collection)) throw new ScriptFileError(`${where}: "collection" must be a collection name`);
    const naturalKey = entry.naturalKey;
    if (!Array.isArray(naturalKey) || naturalKey.length === 0 || !naturalKey.every((k) => typeof k === "string" && k !== "")) {
      throw new ScriptFileError(`${where}: "naturalKey" must be a non-empty list of field names`);
    }
    if (!Array.isArray(entry.documents) || entry.documents.length === 0) throw new ScriptFileError(`${where}: "documents" must be a non-empty array`);
    const seen = new Set<string>();
    entry.documents.forEach((document, j) => {
      if (!isObject(document)) throw new ScriptFileError(`${where}, document ${j + 1}: must be an object`);
      const missing = (naturalKey as string[]).filter((k) => document[k] === undefined || document[k] === null);
      if (missing.length > 0) throw new ScriptFileError(`${where}, document ${j + 1}: lacks natural key field ${missing.join(", ")}`);
      const key = JSON.stringify((naturalKey as string[]).map((k) => document[k]));
      if (seen.has(key)) throw new ScriptFileError(`${where}, document ${j + 1}: natural key ${key} appears twice`);
      seen.add(key);
    });
  });
}
