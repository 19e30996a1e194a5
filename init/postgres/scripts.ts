// Reads a database's SQL files at program time, before any resource exists, and refuses anything
// the migration runner could not apply safely. Files: <folder>/migrations/NNNN_name.sql (applied
// once, in order, never edited afterwards) and <folder>/seeds/NNNN_name.sql (reference data,
// re-applied only when their content changes, written so they never overwrite existing rows).
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

export const SCRIPT_FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export interface SqlScript {
  /** "0001" */
  version: string;
  /** "initial_schema" */
  name: string;
  /** Path relative to the project root, for messages: init/postgres/trading_platform/migrations/0001_initial_schema.sql */
  file: string;
  /** sha256 of the file's bytes, hex. */
  checksum: string;
  sql: string;
}

export interface DatabaseScripts {
  database: string;
  migrations: SqlScript[];
  seeds: SqlScript[];
}

export class ScriptFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScriptFileError";
  }
}

export function sha256(text: string): string {
  return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * Loads <projectRoot>/<folder>/migrations and .../seeds (folder e.g. "init/postgres/trading_platform");
 * a database needs at least one migration.
 */
export function loadDatabaseScripts(projectRoot: string, database: string, folder: string): DatabaseScripts {
  const root = projectRoot;
  const base = path.join(root, folder);
  const migrations = loadScriptFolder(root, path.join(base, "migrations"));
  if (migrations.length === 0) {
    throw new ScriptFileError(`${relative(root, path.join(base, "migrations"))}: no migrations for database ${database}; add 0001_<name>.sql`);
  }
  const seedsDir = path.join(base, "seeds");
  const seeds = fs.existsSync(seedsDir) ? loadScriptFolder(root, seedsDir) : [];
  return { database, migrations, seeds };
}

function loadScriptFolder(root: string, dir: string): SqlScript[] {
  if (!fs.existsSync(dir)) throw new ScriptFileError(`${relative(root, dir)}: folder is missing`);
  const scripts: SqlScript[] = [];
  const byVersion = new Map<string, string>();
  for (const entry of fs.readdirSync(dir).sort()) {
    const file = relative(root, path.join(dir, entry));
    const match = SCRIPT_FILE_PATTERN.exec(entry);
    if (!match) {
      throw new ScriptFileError(`${file}: file name must be NNNN_name.sql (four digits, then lowercase letters, digits and _)`);
    }
    const [, version, name] = match;
    const other = byVersion.get(version);
    if (other) throw new ScriptFileError(`${file}: version ${version} is already used by ${other}; each version number once`);
    byVersion.set(version, file);
    const sql = fs.readFileSync(path.join(dir, entry), "utf8");
    if (sql.trim() === "") throw new ScriptFileError(`${file}: file is empty`);
    // A transaction statement on its own line (PL/pgSQL's BEGIN has no semicolon after it).
    if (/^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION)(\s+(WORK|TRANSACTION))?\s*;/im.test(sql)) {
      throw new ScriptFileError(`${file}: must not manage transactions itself (BEGIN/COMMIT/ROLLBACK); the runner wraps each file in one`);
    }
    scripts.push({ version, name, file, checksum: sha256(sql), sql });
  }
  return scripts;
}

/** One checksum over every script of every database: changes whenever any file does. */
export function scriptsChecksum(all: DatabaseScripts[]): string {
  return sha256(
    all
      .map((db) => [db.database, ...db.migrations.map((m) => `m:${m.file}:${m.checksum}`), ...db.seeds.map((s) => `s:${s.file}:${s.checksum}`)].join("\n"))
      .join("\n"),
  );
}

function relative(root: string, p: string): string {
  return path.relative(root, p).split(path.sep).join("/");
}
