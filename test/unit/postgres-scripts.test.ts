import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, describe, expect, test } from "vitest";
import { loadDatabaseScripts, scriptsChecksum, sha256 } from "../../init/postgres/scripts";
import { POSTGRES_DATABASES } from "../../components/postgres-spec";
import { tempProject } from "../support/files";
import { ROOT } from "../support/pulumi";

let root: string;
function project(files: Record<string, string>): string {
  root = tempProject(files);
  return root;
}
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const load = (files: Record<string, string>) => loadDatabaseScripts(project(files), "db", "init/postgres/db");

describe("migration and seed files", () => {
  test("the project's own files load, in order, with sha256 checksums", () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-scripts-"));
    for (const db of POSTGRES_DATABASES) {
      const scripts = loadDatabaseScripts(ROOT, db.name, `init/postgres/${db.folder}`);
      expect(scripts.migrations[0]).toMatchObject({ version: "0001", name: "initial_schema", file: `init/postgres/${db.folder}/migrations/0001_initial_schema.sql` });
      for (const s of [...scripts.migrations, ...scripts.seeds]) {
        expect(s.checksum).toBe(sha256(fs.readFileSync(path.join(ROOT, s.file), "utf8")));
      }
    }
  });

  test("PL/pgSQL bodies with BEGIN ... END; are fine", () => {
    const scripts = load({ "init/postgres/db/migrations/0001_f.sql": "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$;" });
    expect(scripts.migrations.map((m) => m.version)).toEqual(["0001"]);
    expect(scripts.seeds).toEqual([]);
  });

  test("the combined checksum changes when any file changes", () => {
    const a = load({ "init/postgres/db/migrations/0001_a.sql": "SELECT 1;", "init/postgres/db/seeds/0001_s.sql": "SELECT 2;" });
    fs.rmSync(root, { recursive: true, force: true });
    const b = load({ "init/postgres/db/migrations/0001_a.sql": "SELECT 1;", "init/postgres/db/seeds/0001_s.sql": "SELECT 3;" });
    expect(scriptsChecksum([a])).not.toBe(scriptsChecksum([b]));
  });

  test.each<[Record<string, string>, RegExp]>([
    [{ "init/postgres/db/migrations/1_first.sql": "SELECT 1;" }, /init\/postgres\/db\/migrations\/1_first\.sql: file name must be NNNN_name\.sql/],
    [{ "init/postgres/db/migrations/0001_First.sql": "SELECT 1;" }, /0001_First\.sql: file name must be NNNN_name\.sql/],
    [{ "init/postgres/db/migrations/0001_a.sql": "SELECT 1;", "init/postgres/db/migrations/0001_b.sql": "SELECT 2;" }, /0001_b\.sql: version 0001 is already used by init\/postgres\/db\/migrations\/0001_a\.sql/],
    [{ "init/postgres/db/migrations/0001_a.sql": "  \n" }, /0001_a\.sql: file is empty/],
    [{ "init/postgres/db/migrations/0001_a.sql": "BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;" }, /0001_a\.sql: must not manage transactions itself/],
    [{ "init/postgres/db/seeds/0001_s.sql": "SELECT 1;" }, /init\/postgres\/db\/migrations: folder is missing/],
    [{ "init/postgres/db/migrations/README.md": "notes" }, /README\.md: file name must be NNNN_name\.sql/],
  ])("refused: %j", (files, message) => {
    expect(() => load(files)).toThrow(message);
  });
});
