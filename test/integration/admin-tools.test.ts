// The admin tools' wrapper entrypoints (init/scripts), run for real: pgAdmin's as uid 5050 (the
// user the pgAdmin image runs as), handing libpq a passfile it accepts, checked by psql logging in
// to a real PostgreSQL server with it; mongo-express's turning secret files into the environment
// variables mongo-express reads. The images themselves cannot run here (no registry).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { containerFiles, ownership } from "../support/container";
import { pgBinDir, removeServerDir, startPrimary, type PgServer } from "../support/postgres";
import { requireBuilt, ROOT } from "../support/pulumi";

const PGADMIN_UID = 5050;
const PGADMIN_WRAPPER = path.join(ROOT, "init/scripts/pgadmin-entrypoint.sh");
const MONGO_EXPRESS_WRAPPER = path.join(ROOT, "init/scripts/mongo-express-entrypoint.sh");
const superuserPassword = "pgadmin-test:pass\\word"; // : and \ must be escaped in a passfile

let server: PgServer;
let dir: string;

beforeAll(async () => {
  server = await startPrimary(superuserPassword, "pgadmin");
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-admin-"));
  fs.chmodSync(dir, 0o755);
});

afterAll(async () => {
  await server?.stop();
  if (server) removeServerDir(server);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs the pgAdmin wrapper as uid 5050; the image's entrypoint is stood in for by psql using the passfile. */
function runPgadminWrapper(source: string, target: string) {
  const standIn = path.join(dir, "pgadmin-image-entrypoint.sh");
  fs.writeFileSync(
    standIn,
    `#!/bin/sh\nexec psql -X -w -h 127.0.0.1 -p ${server.port} -U postgres -d postgres -tAc "select 'logged in with the passfile'"\n`,
    { mode: 0o755 },
  );
  return spawnSync("setpriv", [`--reuid=${PGADMIN_UID}`, `--regid=${PGADMIN_UID}`, "--clear-groups", "sh", PGADMIN_WRAPPER], {
    env: { PATH: `${pgBinDir()}:/usr/bin:/bin`, PGPASS_SOURCE: source, PGPASS_TARGET: target, PGADMIN_IMAGE_ENTRYPOINT: standIn, PGPASSFILE: target },
    encoding: "utf8",
  });
}

describe("pgAdmin wrapper entrypoint", () => {
  test("copies the uploaded passfile into the login's storage folder, owned by pgAdmin's user with mode 0600, and libpq logs in with it", () => {
    const { pgpassFile } = requireBuilt("components/admin-tools-spec.js");
    const source = path.join(dir, "uploaded-pgpass");
    // As Pulumi uploads it on Docker: pgAdmin's user's, mode 0400 (libpq still wants its own 0600 copy in the storage folder).
    fs.writeFileSync(source, pgpassFile([{ name: "primary", endpoint: { host: "127.0.0.1", port: server.port } }], "postgres", superuserPassword), { mode: 0o400 });
    fs.chownSync(source, PGADMIN_UID, PGADMIN_UID);
    const home = path.join(dir, "var-lib-pgadmin");
    fs.mkdirSync(home);
    fs.chownSync(home, PGADMIN_UID, PGADMIN_UID);
    const target = path.join(home, "storage", "admin_trading.example.com", "pgpass");

    const result = runPgadminWrapper(source, target);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("logged in with the passfile");
    const stat = fs.statSync(target);
    expect([stat.uid, (stat.mode & 0o777).toString(8)]).toEqual([PGADMIN_UID, "600"]);

    // What the wrapper guards against: libpq ignores a passfile others can read, and the login fails.
    fs.chmodSync(source, 0o644);
    const unsafe = spawnSync("setpriv", [`--reuid=${PGADMIN_UID}`, `--regid=${PGADMIN_UID}`, "--clear-groups", "psql", "-X", "-w", "-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres", "-d", "postgres", "-c", "select 1"], {
      env: { PATH: `${pgBinDir()}:/usr/bin:/bin`, PGPASSFILE: source },
      encoding: "utf8",
    });
    expect(unsafe.status).not.toBe(0);
    expect(unsafe.stderr).toMatch(/has group or world access|no password supplied/);
  });

  test("on Kubernetes (uid 5050, fsGroup 5050): from a 0440 Secret file into a root-owned, group-writable volume", () => {
    const { pgpassFile } = requireBuilt("components/admin-tools-spec.js");
    const files = containerFiles("pgadmin", "kubernetes", { uid: PGADMIN_UID, gid: PGADMIN_UID });
    try {
      const source = files.secret("pgpass", pgpassFile([{ name: "primary", endpoint: { host: "127.0.0.1", port: server.port } }], "postgres", superuserPassword));
      const home = files.volume("var-lib-pgadmin");
      const target = path.join(home, "storage", "admin_trading.example.com", "pgpass");

      const result = runPgadminWrapper(source, target);
      expect(result.stderr).toBe("");
      expect(result.stdout.trim()).toBe("logged in with the passfile");
      expect(ownership(target)).toEqual({ uid: PGADMIN_UID, gid: PGADMIN_UID, mode: "0600" });
      expect(ownership(home)).toEqual({ uid: 0, gid: PGADMIN_UID, mode: "2775" });
      expect(ownership(source)).toEqual({ uid: 0, gid: PGADMIN_UID, mode: "0440" });
    } finally {
      fs.rmSync(files.dir, { recursive: true, force: true });
    }
  });

  test("refuses to start without the passfile, saying which", () => {
    const result = runPgadminWrapper(path.join(dir, "missing"), path.join(dir, "unused", "pgpass"));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`passfile ${path.join(dir, "missing")} is missing or empty`);
  });
});

describe("mongo-express wrapper entrypoint", () => {
  const print = ["sh", "-c", 'printf "%s|%s|%s|%s" "$ME_CONFIG_MONGODB_URL" "$ME_CONFIG_SITE_SESSIONSECRET" "$ME_CONFIG_SITE_COOKIESECRET" "${ME_CONFIG_MONGODB_URL_FILE:-gone}"'];

  test("exports each secret file as the variable mongo-express reads, drops the *_FILE names, and runs the command", () => {
    const files: Record<string, string> = { url: "mongodb://root:p%40ss@mongodb:27017/admin?replicaSet=rs0&authSource=admin", session: "session-secret", cookie: "cookie-secret" };
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    const result = spawnSync("sh", [MONGO_EXPRESS_WRAPPER, ...print], {
      env: {
        PATH: "/usr/bin:/bin",
        ME_CONFIG_MONGODB_URL_FILE: path.join(dir, "url"),
        ME_CONFIG_SITE_SESSIONSECRET_FILE: path.join(dir, "session"),
        ME_CONFIG_SITE_COOKIESECRET_FILE: path.join(dir, "cookie"),
      },
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`${files.url}|session-secret|cookie-secret|gone`);
  });

  test("on Kubernetes (the image's node user, uid 1000): reads the 0440 Secret files through its group", () => {
    const node = { uid: 1000, gid: 1000 };
    const files = containerFiles("mongo-express", "kubernetes", node);
    try {
      const wrapper = files.script(MONGO_EXPRESS_WRAPPER, "trading-mongo-express-entrypoint.sh");
      const result = files.run(wrapper, print, {
        PATH: "/usr/bin:/bin",
        ME_CONFIG_MONGODB_URL_FILE: files.secret("url", "mongodb://root:p%40ss@mongodb:27017/admin?replicaSet=rs0&authSource=admin"),
        ME_CONFIG_SITE_SESSIONSECRET_FILE: files.secret("session", "session-secret"),
        ME_CONFIG_SITE_COOKIESECRET_FILE: files.secret("cookie", "cookie-secret"),
      });
      expect(result.stderr).toBe("");
      expect(result.stdout).toBe("mongodb://root:p%40ss@mongodb:27017/admin?replicaSet=rs0&authSource=admin|session-secret|cookie-secret|gone");
    } finally {
      fs.rmSync(files.dir, { recursive: true, force: true });
    }
  });

  test("a named file that is missing stops the container, saying which", () => {
    const result = spawnSync("sh", [MONGO_EXPRESS_WRAPPER, ...print], {
      env: { PATH: "/usr/bin:/bin", ME_CONFIG_MONGODB_URL_FILE: path.join(dir, "nope") },
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`ME_CONFIG_MONGODB_URL_FILE names ${path.join(dir, "nope")}, which is missing or empty`);
  });
});
