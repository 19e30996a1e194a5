// The pinned server images: every default at or above each known fix of its series, versions the
// stack's files cannot serve refused, a user's vulnerable pin named in a warning.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, test, vi } from "vitest";
import { CONFIG_KEYS, ConfigError, parseStackConfig, type ConfigKeyName } from "../../components/config";
import { compareVersions, KNOWN_VULNERABILITIES, knownVulnerabilities, SERIES_LENGTH, SERVED_VERSIONS, tagVersion, type ServerImage } from "../../components/image-versions";
import { mongodCommand } from "../../components/mongo-spec";
import { ROOT, runProgram, stackConfig } from "../support/pulumi";

const IMAGE_KEYS: Record<ServerImage, ConfigKeyName> = { postgres: "postgresImage", mongo: "mongoImage", redis: "redisImage", influxdb: "influxdbImage" };
const SERVERS = Object.keys(IMAGE_KEYS) as ServerImage[];

/** The pins a stack starts with: the schema's defaults and what Pulumi.dev.yaml / Pulumi.prod.yaml set. */
function defaultPins(server: ServerImage): Array<[string, string]> {
  // PostgreSQL on Kubernetes runs CloudNativePG's operand image, validated against the same table.
  const keys: ConfigKeyName[] = server === "postgres" ? [IMAGE_KEYS.postgres, "kubernetesPostgresImage"] : [IMAGE_KEYS[server]];
  const pins: Array<[string, string]> = [];
  for (const key of keys) {
    pins.push([`${key} default`, String(CONFIG_KEYS[key].default)]);
    for (const stack of ["dev", "prod"]) {
      const value = stackConfig(stack)[`trading-db-stack:${key}`];
      if (value !== undefined) pins.push([`Pulumi.${stack}.yaml ${key}`, value]);
    }
  }
  return pins;
}

const versionOf = (image: string) => tagVersion(image.slice(image.lastIndexOf(":") + 1))!;

describe("default pins", () => {
  test.each(SERVERS)("%s: every default pin is at or above the fix of every known vulnerability of its series", (server) => {
    const series = (v: number[]) => v.slice(0, SERIES_LENGTH[server]).join(".");
    for (const [where, image] of defaultPins(server)) {
      const version = versionOf(image);
      // A patch pinned: a floating tag would not be judged.
      expect(version.length, `${where}: ${image}`).toBeGreaterThan(SERIES_LENGTH[server]);
      for (const row of KNOWN_VULNERABILITIES.filter((r) => r.image === server)) {
        const fix = row.fixedIn.map((f) => tagVersion(f)!).find((f) => series(f) === series(version));
        if (fix) expect(compareVersions(version, fix), `${where}: ${image} is below ${fix.join(".")}, which fixed ${row.ids.join(", ")}`).toBeGreaterThanOrEqual(0);
      }
      expect(knownVulnerabilities(server, version), `${where}: ${image}`).toEqual([]);
    }
  });

  test("each series a default pins has an advisory row, so the check above judges something (InfluxDB 2.7 has none known)", () => {
    for (const server of ["postgres", "mongo", "redis"] as ServerImage[]) {
      const [, image] = defaultPins(server)[0];
      const series = versionOf(image).slice(0, SERIES_LENGTH[server]).join(".");
      const judged = KNOWN_VULNERABILITIES.filter((r) => r.image === server && r.fixedIn.some((f) => f.startsWith(`${series}.`)));
      expect(judged.length, `${server} ${series}`).toBeGreaterThan(0);
    }
  });

  test("the issue's two: MongoBleed (CVE-2025-14847, fixed in 8.0.17) and RediShell (CVE-2025-49844, fixed in 7.4.6) are in the table", () => {
    const ids = (server: ServerImage, version: string) => knownVulnerabilities(server, tagVersion(version)!).flatMap((r) => r.ids);
    expect(ids("mongo", "8.0.4")).toContain("CVE-2025-14847");
    expect(ids("mongo", "8.0.16")).toContain("CVE-2025-14847");
    expect(ids("mongo", "8.0.17")).not.toContain("CVE-2025-14847");
    expect(ids("mongo", "7.0.27")).toContain("CVE-2025-14847");
    expect(ids("redis", "7.4.2")).toContain("CVE-2025-49844");
    expect(ids("redis", "7.4.5")).toContain("CVE-2025-49844");
    expect(ids("redis", "7.4.6")).not.toContain("CVE-2025-49844");
    expect(ids("redis", "6.2.19")).toContain("CVE-2025-49844");
  });

  test("every row names its series once, each fix a whole version, and a source", () => {
    for (const row of KNOWN_VULNERABILITIES) {
      const series = row.fixedIn.map((f) => tagVersion(f)!.slice(0, SERIES_LENGTH[row.image]).join("."));
      expect(new Set(series).size, row.ids.join()).toBe(series.length);
      for (const fix of row.fixedIn) expect(tagVersion(fix)!.length, fix).toBe(SERIES_LENGTH[row.image] + 1);
      expect(row.source.length).toBeGreaterThan(0);
    }
  });
});

test("the README's table names every advisory of the project's table", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### Image pins and known vulnerabilities"), readme.indexOf("## Outputs: how services connect"));
  for (const id of KNOWN_VULNERABILITIES.flatMap((r) => r.ids)) expect(section, id).toContain(id);
  expect(new Set(section.match(/CVE-\d{4}-\d+/g)).size).toBe(new Set(KNOWN_VULNERABILITIES.flatMap((r) => r.ids)).size);
});

describe("versions from tags", () => {
  test.each([
    ["8.0.32", [8, 0, 32]],
    ["8.0.32-noble", [8, 0, 32]],
    ["7.4.11-alpine3.21", [7, 4, 11]],
    ["18.7-bookworm", [18, 7]],
    ["18", [18]],
    ["2.7.12@sha256", [2, 7, 12]],
  ])("%s -> %j", (tag, version) => {
    expect(tagVersion(tag)).toEqual(version);
  });

  test.each(["latest", "alpine", "bookworm", "v8.0.1", "8.x"])("%s has no version", (tag) => {
    expect(tagVersion(tag)).toBeUndefined();
  });

  test("a tag naming only its series (postgres:18, redis:7.4) follows the newest release: not judged", () => {
    expect(knownVulnerabilities("postgres", [18])).toEqual([]);
    expect(knownVulnerabilities("redis", [7, 4])).toEqual([]);
    expect(knownVulnerabilities("postgres", [18, 1]).length).toBeGreaterThan(0);
  });

  test("a series no row names is not judged by it", () => {
    expect(knownVulnerabilities("mongo", [8, 3, 0])).toEqual([]);
  });
});

describe("config", () => {
  const parse = (values: Partial<Record<ConfigKeyName, string>>) => parseStackConfig((key) => values[key as ConfigKeyName]);

  test("the defaults and both stacks' pins give no warning", () => {
    expect(parse({}).warnings).toEqual([]);
    for (const stack of ["dev", "prod"]) {
      const config = stackConfig(stack);
      expect(parseStackConfig((key) => config[`trading-db-stack:${key}`]).warnings, stack).toEqual([]);
    }
  });

  test("a pin with known vulnerabilities is allowed, with a warning naming them, their fix and the default", () => {
    const { warnings } = parse({ mongoImage: "mongo:8.0.4", redisImage: "redis:7.4.2-alpine" });
    expect(warnings).toContainEqual(expect.stringMatching(/^trading-db-stack:mongoImage: MongoDB 8\.0\.4 has CVE-2025-14847 \(MongoBleed: .*\), fixed in 6\.0\.27, 7\.0\.28, 8\.0\.17, 8\.2\.3; the default pin is mongo:8\.0\.\d+$/));
    expect(warnings).toContainEqual(expect.stringMatching(/^trading-db-stack:redisImage: Redis 7\.4\.2 has CVE-2025-49844, /));
    expect(warnings.every((w) => /^trading-db-stack:(mongoImage|redisImage): /.test(w))).toBe(true);
  });

  test("`pulumi up` says the warning, and still builds the stack with the user's pin", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const run = await runProgram("dev", { redisImage: "redis:7.4.2" });
      expect(warn.mock.calls.map((c) => String(c[0]))).toContainEqual(expect.stringMatching(/^warning: \[runtime\] trading-db-stack:redisImage: Redis 7\.4\.2 has CVE-2025-49844/));
      expect(run.byName("trading-redis-image").inputs.name).toBe("redis:7.4.2");
    } finally {
      warn.mockRestore();
    }
  });

  test("the oldest version each server is served from is accepted, a series tag of it too; just below is refused", () => {
    const floors: Record<ServerImage, [string, string, string]> = {
      postgres: ["postgres:15.20", "postgres:15", "postgres:14.19"],
      mongo: ["mongo:6.0.27", "mongo:6.0", "mongo:5.0.31"],
      redis: ["redis:6.2.20", "redis:6", "redis:6.0.20"],
      influxdb: ["influxdb:2.1.1", "influxdb:2", "influxdb:2.0.9"],
    };
    for (const server of SERVERS) {
      const [oldest, series, below] = floors[server];
      expect(() => parse({ [IMAGE_KEYS[server]]: oldest }), oldest).not.toThrow();
      expect(() => parse({ [IMAGE_KEYS[server]]: series }), series).not.toThrow();
      expect(() => parse({ [IMAGE_KEYS[server]]: below }), below).toThrow(ConfigError);
      expect(compareVersions(versionOf(oldest), tagVersion(SERVED_VERSIONS[server].minimum)!)).toBeGreaterThanOrEqual(0);
    }
  });
});

describe("mongod", () => {
  test("offers snappy and zstd to compress the wire, never zlib (CVE-2025-14847 went through zlib)", () => {
    const command = mongodCommand(parseStackConfig(() => undefined).mongo);
    const list = command[command.indexOf("--networkMessageCompressors") + 1];
    expect(list).toBe("snappy,zstd");
    expect(command.join(" ")).not.toContain("zlib");
  });
});
