// Versioned init files shared by every database: NNNN_name.<ext> in a migrations/ folder (applied
// once, in order, never edited afterwards) and a seeds/ folder (reference data, re-applied only
// when their content changes). Loaded at program time, before any resource exists; planned inside
// the hooks against what the database has recorded.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

export interface VersionedFile {
  /** "0001" */
  version: string;
  /** "initial_schema" */
  name: string;
  /** Path relative to the project root, for messages: init/mongo/trading_configs/migrations/0001_collections.json */
  file: string;
  /** sha256 of the file's bytes, hex. */
  checksum: string;
  text: string;
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

export function relativePath(root: string, p: string): string {
  return path.relative(root, p).split(path.sep).join("/");
}

/** Every NNNN_name.<ext> file of a folder, in version order; refuses other names, reused versions and empty files. */
export function loadVersionedFolder(root: string, dir: string, ext: string): VersionedFile[] {
  if (!fs.existsSync(dir)) throw new ScriptFileError(`${relativePath(root, dir)}: folder is missing`);
  const pattern = new RegExp(`^(\\d{4})_([a-z0-9_]+)\\.${ext}$`);
  const files: VersionedFile[] = [];
  const byVersion = new Map<string, string>();
  for (const entry of fs.readdirSync(dir).sort()) {
    const file = relativePath(root, path.join(dir, entry));
    const match = pattern.exec(entry);
    if (!match) {
      throw new ScriptFileError(`${file}: file name must be NNNN_name.${ext} (four digits, then lowercase letters, digits and _)`);
    }
    const [, version, name] = match;
    const other = byVersion.get(version);
    if (other) throw new ScriptFileError(`${file}: version ${version} is already used by ${other}; each version number once`);
    byVersion.set(version, file);
    const text = fs.readFileSync(path.join(dir, entry), "utf8");
    if (text.trim() === "") throw new ScriptFileError(`${file}: file is empty`);
    files.push({ version, name, file, checksum: sha256(text), text });
  }
  return files;
}

/** What a database has recorded of a file it applied. */
export interface RecordedFile {
  kind: "migration" | "seed";
  version: string;
  checksum: string;
  applied_at: Date | string;
}

/**
 * What to apply. Refuses an applied migration whose file changed, and a new migration numbered
 * below one already applied (it would run out of order). Seeds re-run when their content changes.
 */
export function planVersionedFiles<T extends { version: string; file: string; checksum: string }>(
  database: string,
  files: { migrations: T[]; seeds: T[] },
  recorded: RecordedFile[],
): { migrations: T[]; seeds: T[] } {
  const applied = new Map(recorded.filter((r) => r.kind === "migration").map((r) => [r.version, r]));
  const newest = [...applied.keys()].sort().pop() ?? "";
  const problems: string[] = [];
  const migrations: T[] = [];
  for (const m of files.migrations) {
    const record = applied.get(m.version);
    if (!record) {
      if (m.version < newest) {
        problems.push(`${m.file} is numbered below migration ${newest}, which is already applied; renumber it above ${newest}`);
      }
      migrations.push(m);
    } else if (record.checksum !== m.checksum) {
      problems.push(
        `${m.file} was applied on ${new Date(record.applied_at).toISOString()} with checksum ${record.checksum}, ` +
          `but the file now has checksum ${m.checksum}. An applied migration must not change: ` +
          `restore the file and put the change in a new migration`,
      );
    }
  }
  if (problems.length > 0) {
    throw new Error(`database ${database}: migrations refused, nothing was applied:\n  - ${problems.join("\n  - ")}`);
  }
  const seedChecksums = new Map(recorded.filter((r) => r.kind === "seed").map((r) => [r.version, r.checksum]));
  const seeds = files.seeds.filter((s) => seedChecksums.get(s.version) !== s.checksum);
  return { migrations, seeds };
}

/** One checksum over every script of every database: changes whenever any file does. */
export function scriptsChecksum(all: Array<{ database: string; migrations: Array<{ file: string; checksum: string }>; seeds: Array<{ file: string; checksum: string }> }>): string {
  return sha256(
    all
      .map((db) => [db.database, ...db.migrations.map((m) => `m:${m.file}:${m.checksum}`), ...db.seeds.map((s) => `s:${s.file}:${s.checksum}`)].join("\n"))
      .join("\n"),
  );
}
