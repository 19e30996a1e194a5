// Reads a database's SQL files at program time, before any resource exists, and refuses anything
// the migration runner could not apply safely. Files: <folder>/migrations/NNNN_name.sql (applied
// once, in order, never edited afterwards) and <folder>/seeds/NNNN_name.sql (reference data,
// re-applied only when their content changes, written so they never overwrite existing rows).
import * as fs from "fs";
import * as path from "path";
import { loadVersionedFolder, relativePath, ScriptFileError, scriptsChecksum, sha256 } from "../versioned-files";

export { ScriptFileError, scriptsChecksum, sha256 };

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

/**
 * Loads <projectRoot>/<folder>/migrations and .../seeds (folder e.g. "init/postgres/trading_platform");
 * a database needs at least one migration.
 */
export function loadDatabaseScripts(projectRoot: string, database: string, folder: string): DatabaseScripts {
  const root = projectRoot;
  const base = path.join(root, folder);
  const migrations = loadScriptFolder(root, path.join(base, "migrations"));
  if (migrations.length === 0) {
    throw new ScriptFileError(`${relativePath(root, path.join(base, "migrations"))}: no migrations for database ${database}; add 0001_<name>.sql`);
  }
  const seedsDir = path.join(base, "seeds");
  const seeds = fs.existsSync(seedsDir) ? loadScriptFolder(root, seedsDir) : [];
  return { database, migrations, seeds };
}

function loadScriptFolder(root: string, dir: string): SqlScript[] {
  return loadVersionedFolder(root, dir, "sql").map(({ text, ...script }) => {
    // A transaction statement on its own line (PL/pgSQL's BEGIN has no semicolon after it).
    if (/^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION)(\s+(WORK|TRANSACTION))?\s*;/im.test(text)) {
      throw new ScriptFileError(`${script.file}: must not manage transactions itself (BEGIN/COMMIT/ROLLBACK); the runner wraps each file in one`);
    }
    return { ...script, sql: text };
  });
}
