// Which versions of the database images the stack can serve, and which are known to be vulnerable.
//
// A pinned tag such as `mongo:8.0.17-noble` is read as the version it starts with (8.0.17). The
// stack's own files set the floor (SERVED_VERSIONS: below it they do not load); the table of
// known vulnerabilities says, per series, the first release that fixed each one. A unit test
// keeps every default pin at or above all of them, so no later change can go back to a
// vulnerable default; a user's pin below a fix is named in a warning at `pulumi up`.

export type ServerImage = "postgres" | "mongo" | "redis" | "influxdb";

/** A version as its numbers: "8.0.17" -> [8, 0, 17]. */
export type Version = number[];

/** The version a tag starts with ("7.4.6-alpine" -> [7, 4, 6]); undefined when it starts with none. */
export function tagVersion(tag: string): Version | undefined {
  const match = /^(\d+(?:\.\d+)*)(?:$|[^.\d])/.exec(tag);
  return match ? match[1].split(".").map(Number) : undefined;
}

/** <0, 0, >0 as a is older than, equal to or newer than b; missing parts count as 0. */
export function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function versionText(v: Version): string {
  return v.join(".");
}

/**
 * How many leading numbers name a release series that gets its own fixes: PostgreSQL's major
 * (18.1 -> 18), the others' major.minor (8.0.17 -> 8.0, 7.4.6 -> 7.4, 2.7.12 -> 2.7).
 */
export const SERIES_LENGTH: Record<ServerImage, number> = { postgres: 1, mongo: 2, redis: 2, influxdb: 2 };

/** A tag that names a whole series (`postgres:18`, `redis:7.4`) follows its newest release: no patch to judge. */
export function isFloating(image: ServerImage, v: Version): boolean {
  return v.length <= SERIES_LENGTH[image];
}

/**
 * The versions of each image the stack's own files and scripts work with, and why: from
 * `minimum` on, and below `majorBelow` where a later major is another product. Others are
 * refused before any resource is created.
 */
export const SERVED_VERSIONS: Record<ServerImage, { minimum: string; why: string; majorBelow?: number; whyNotNewer?: string }> = {
  postgres: { minimum: "15", why: "the hooks' grants and the replica entrypoint use PostgreSQL 15 features" },
  mongo: { minimum: "6.0", why: "the healthcheck uses mongosh (MongoDB 6+), and the zstd network compressor needs 4.2+" },
  redis: { minimum: "6.2", why: "the ACL file's channel rules (&*, resetchannels) need Redis 6.2" },
  influxdb: {
    minimum: "2.1",
    why: "the entrypoint re-applies the admin password with `influxd recovery`, which InfluxDB 2.1 added",
    majorBelow: 3,
    whyNotNewer: "InfluxDB 3 (also `latest`) is another product with another API",
  },
};

export interface KnownVulnerability {
  image: ServerImage;
  ids: string[];
  summary: string;
  /** The first fixed release of each series the advisory names (one per series). */
  fixedIn: string[];
  source: string;
}

const PG_2026_05 = ["CVE-2026-6472", "CVE-2026-6473", "CVE-2026-6474", "CVE-2026-6475", "CVE-2026-6476", "CVE-2026-6477", "CVE-2026-6478", "CVE-2026-6479", "CVE-2026-6575", "CVE-2026-6637", "CVE-2026-6638"];

/**
 * Known vulnerabilities of the servers the stack runs, with the first fixed release of each
 * series an advisory names. Add a row when an advisory appears, then raise any default pin below
 * it (test/unit/image-versions.test.ts fails until you do). Only the series a row names are judged:
 * a version of another series is not said to be vulnerable or safe by that row.
 */
export const KNOWN_VULNERABILITIES: KnownVulnerability[] = [
  {
    image: "mongo",
    ids: ["CVE-2025-14847"],
    summary: "MongoBleed: zlib message decompression returns server heap memory to anyone who reaches the port, before login",
    fixedIn: ["6.0.27", "7.0.28", "8.0.17", "8.2.3"],
    source: "cvelistV5 CVE-2025-14847; MongoDB SERVER-115508",
  },
  { image: "mongo", ids: ["CVE-2025-10060"], summary: "a retried upsert in a transaction crashes the server (invariant)", fixedIn: ["8.0.12"], source: "cvelistV5 CVE-2025-10060" },
  { image: "mongo", ids: ["CVE-2025-11979"], summary: "DDL during queries: buffer over-read, server crash", fixedIn: ["8.0.15"], source: "cvelistV5 CVE-2025-11979" },
  { image: "mongo", ids: ["CVE-2026-9740", "CVE-2026-9750", "CVE-2026-9753"], summary: "BSONColumn recursion crashes the server before login, and two more", fixedIn: ["8.0.24"], source: "cvelistV5 CVE-2026-9740" },
  {
    image: "redis",
    ids: ["CVE-2025-21605"],
    summary: "an unauthenticated client grows its output buffer without limit",
    fixedIn: ["7.4.3"],
    source: "redis/docs redisce-7.4-release-notes (7.4.3)",
  },
  { image: "redis", ids: ["CVE-2025-27151"], summary: "redis-check-aof stack overflow", fixedIn: ["7.4.4"], source: "redis/docs redisce-7.4-release-notes (7.4.4)" },
  {
    image: "redis",
    ids: ["CVE-2025-32023", "CVE-2025-48367"],
    summary: "HyperLogLog out-of-bounds write; connection-accept retry denial of service",
    fixedIn: ["7.4.5"],
    source: "docker-library/official-images 5a530d61 (redis 7.4.5)",
  },
  {
    image: "redis",
    ids: ["CVE-2025-49844", "CVE-2025-46817", "CVE-2025-46818", "CVE-2025-46819"],
    summary: "Lua use-after-free: remote code execution by an authenticated user (RediShell), and three more Lua flaws",
    fixedIn: ["6.2.20", "7.2.11", "7.4.6", "8.0.4", "8.2.2"],
    source: "redis/docs redisce-7.4-release-notes (7.4.6); docker-library/official-images 157b4dd8",
  },
  {
    image: "redis",
    ids: ["CVE-2026-23479", "CVE-2026-25243", "CVE-2026-23631"],
    summary: "use-after-free on unblock, invalid memory access in RESTORE, Lua use-after-free: remote code execution",
    fixedIn: ["7.4.9"],
    source: "redis/docs redisce-7.4-release-notes (7.4.9)",
  },
  {
    image: "postgres",
    ids: ["CVE-2025-12817", "CVE-2025-12818"],
    summary: "CREATE STATISTICS skips a schema privilege check; libpq allocation size overflow",
    fixedIn: ["15.15", "16.11", "17.7", "18.1"],
    source: "postgresql.org release notes 2025-11-13",
  },
  {
    image: "postgres",
    ids: ["CVE-2026-2003", "CVE-2026-2004", "CVE-2026-2005", "CVE-2026-2006", "CVE-2026-2007"],
    summary: "oidvector memory disclosure; overflows in intarray, pgcrypto, multibyte text and pg_trgm",
    fixedIn: ["15.16", "16.12", "17.8", "18.2"],
    source: "cvelistV5 CVE-2026-2005; postgresql.org release 2026-02-12",
  },
  { image: "postgres", ids: PG_2026_05, summary: "eleven flaws, among them code execution through refint and a libpq lo_* overflow", fixedIn: ["15.18", "16.14", "17.10", "18.4"], source: "postgresql.org release 2026-05-14" },
  {
    image: "postgres",
    ids: ["CVE-2026-14680", "CVE-2026-16238", "CVE-2026-16239"],
    summary: "type confusion leading to code execution",
    fixedIn: ["15.19", "16.15", "17.11", "18.6"],
    source: "cvelistV5 CVE-2026-14680; postgresql.org release 2026-08-13",
  },
  {
    image: "postgres",
    ids: ["CVE-2026-6460"],
    summary: "type confusion after ALTER ... SET DATA TYPE: code execution by a table owner",
    fixedIn: ["15.20", "16.16", "17.12", "18.7"],
    source: "cvelistV5 CVE-2026-6460 (2026-11-12)",
  },
];

/**
 * The rows a pinned version is below the fix of, in its own series. A floating tag (no patch:
 * it follows its series' newest release) is not judged.
 */
export function knownVulnerabilities(image: ServerImage, version: Version): KnownVulnerability[] {
  if (isFloating(image, version)) return [];
  const series = (v: Version) => versionText(v.slice(0, SERIES_LENGTH[image]));
  return KNOWN_VULNERABILITIES.filter((row) => {
    if (row.image !== image) return false;
    const fix = row.fixedIn.map((f) => tagVersion(f)!).find((f) => series(f) === series(version));
    return fix !== undefined && compareVersions(version, fix) < 0;
  });
}
