// npm run env: the dotenv file a consumer gets from the stack outputs, read from a JSON file as
// `pulumi stack output --json --show-secrets` prints it (here: the dev program's outputs under mocks).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as dotenv from "dotenv";
import { SECRET_CONFIG_KEYS } from "../../components/config";
import { formatDotenv } from "../../tools/env";
import { mockPassword, ROOT, runProgram } from "../support/pulumi";

let dir: string;
let outputsFile: string;

beforeAll(async () => {
  const run = await runProgram("dev");
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-env-"));
  outputsFile = path.join(dir, "outputs.json");
  fs.writeFileSync(outputsFile, JSON.stringify(Object.fromEntries(Object.entries(run.outputs).map(([k, v]) => [k, v.value]))));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function env(...args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, "bin/tools/env.js"), ...args], { cwd: dir, encoding: "utf8" });
}

/** The file as the dotenv package reads it. */
function readDotenv(text: string): Record<string, string> {
  return dotenv.parse(text);
}

/** The file as `set -a; . file` in bash leaves the environment, read back NUL-separated (run in `cwd`). */
function sourceInBash(file: string, cwd: string): Record<string, string> {
  const names = Object.keys(readDotenv(fs.readFileSync(file, "utf8")));
  const script = `set -a; . "$1"; set +a; for n in ${names.join(" ")}; do printf '%s=%s\\0' "$n" "\${!n}"; done`;
  const result = spawnSync("bash", ["--norc", "--noprofile", "-c", script, "bash", file], { cwd, encoding: "utf8", env: { PATH: process.env.PATH } });
  expect(result.status, result.stderr).toBe(0);
  expect(result.stderr).toBe("");
  return Object.fromEntries(result.stdout.split("\0").filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]));
}

describe("npm run env", () => {
  test("writes the trading simulation's variables for processes on the host, mode 0600", () => {
    const result = env("--consumer", "trading-simulation", "--from-json", outputsFile);
    expect(result.status, result.stderr).toBe(0);
    const file = path.join(dir, ".env.trading-simulation");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const vars = readDotenv(fs.readFileSync(file, "utf8"));
    expect(vars).toMatchObject({
      POSTGRES_HOST: "127.0.0.1",
      POSTGRES_PORT: "5432",
      POSTGRES_DB: "trading_results",
      POSTGRES_USER: "trading_results_app",
      POSTGRES_PASSWORD: mockPassword("trading-secrets-postgres-trading-results-app-password", 32),
      MONGODB_HOST: "127.0.0.1",
      MONGODB_DATABASE: "trading_configs",
      MONGODB_PASSWORD: mockPassword("trading-secrets-mongo-app-password", 32),
    });
    expect(result.stderr).toContain("wrote 11 variables for trading-simulation (host) to .env.trading-simulation (mode 0600)");
  });

  test("a Kubernetes stack: --target network gives the in-cluster names; host ports come with a hint to run npm run forward", async () => {
    const run = await runProgram("prod");
    const file = path.join(dir, "outputs-prod.json");
    fs.writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(run.outputs).map(([k, v]) => [k, v.value]))));
    const inCluster = env("--consumer", "trading-simulation", "--target", "network", "--out", path.join(dir, "cluster.env"), "--from-json", file);
    expect(inCluster.status, inCluster.stderr).toBe(0);
    expect(readDotenv(fs.readFileSync(path.join(dir, "cluster.env"), "utf8")).POSTGRES_HOST).toBe("trading-postgres-rw.trading-db.svc.cluster.local");
    expect(inCluster.stderr).not.toContain("npm run forward");
    const host = env("--consumer", "trading-simulation", "--out", path.join(dir, "laptop.env"), "--from-json", file);
    expect(host.status, host.stderr).toBe(0);
    expect(host.stderr).toContain("the stack runs on Kubernetes (namespace trading-db): these 127.0.0.1 ports answer while `npm run forward` runs");
    // A Docker stack gets no hint.
    expect(env("--consumer", "trading-simulation", "--out", path.join(dir, "dev.env"), "--from-json", outputsFile).stderr).not.toContain("Kubernetes");
  });

  test("--target network gives the in-network names; --out chooses the file and replaces an old one, keeping 0600", () => {
    const out = path.join(dir, "platform.env");
    fs.writeFileSync(out, "OLD=1\n", { mode: 0o644 });
    const result = env("--consumer", "advanced-trading-platform", "--target", "network", "--out", out, "--from-json", outputsFile);
    expect(result.status, result.stderr).toBe(0);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const vars = readDotenv(fs.readFileSync(out, "utf8"));
    expect(Object.keys(vars).sort()).toEqual(["DATABASE_URL", "INFLUXDB_BUCKET", "INFLUXDB_ORG", "INFLUXDB_TOKEN", "INFLUXDB_URL", "REDIS_URL"]);
    expect(vars.DATABASE_URL).toMatch(/^postgresql\+asyncpg:\/\/trading_platform_app:[A-Za-z0-9]{32}@postgres:5432\/trading_platform$/);
    expect(vars.REDIS_URL).toMatch(/@redis:6379\/0$/);
  });

  test.each<[string, string[], RegExp]>([
    ["an unknown consumer", ["--consumer", "billing"], /--consumer must be one of: advanced-trading-platform, trading-simulation; got "billing"/],
    ["no consumer", [], /--consumer must be one of/],
    ["an unknown target", ["--consumer", "trading-simulation", "--target", "k8s"], /--target must be host .* or network/],
    ["a missing file", ["--consumer", "trading-simulation", "--from-json", "/nonexistent.json"], /--from-json \/nonexistent\.json: file not found/],
  ])("refuses %s, saying what is allowed, and writes nothing", (_name, args, message) => {
    const result = env(...(args.includes("--from-json") ? args : [...args, "--from-json", outputsFile]));
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  test("refuses outputs shown without --show-secrets, and outputs of another project", () => {
    const hidden = path.join(dir, "hidden.json");
    fs.writeFileSync(hidden, JSON.stringify({ serviceEnv: "[secret]" }));
    expect(env("--consumer", "trading-simulation", "--from-json", hidden).stderr).toMatch(/output "serviceEnv" is hidden as \[secret\]; add --show-secrets/);
    const other = path.join(dir, "other.json");
    fs.writeFileSync(other, JSON.stringify({ url: "x" }));
    expect(env("--consumer", "trading-simulation", "--from-json", other).stderr).toMatch(/output "serviceEnv" is missing; is this the output of a trading-db-stack stack/);
  });

  test("every value is single-quoted; a value no quoting carries for both readers is refused by name", () => {
    expect(formatDotenv({ PLAIN: "postgresql://u:p@h:5432/db?x=1&y=2", ODD: 'a "b" $HOME\\n`x`' })).toBe(
      "PLAIN='postgresql://u:p@h:5432/db?x=1&y=2'\nODD='a \"b\" $HOME\\n`x`'\n",
    );
    expect(() => formatDotenv({ "BAD-NAME": "x" })).toThrow(/not a valid environment variable name/);
    expect(() => formatDotenv({ QUOTED: "it's" })).toThrow(/QUOTED: its value holds a single quote or a line break/);
  });

  // Every printable ASCII character a password may hold (all but space and '), spread over every
  // password the user may set, with commands that would leave a file behind if anything ran them.
  const HOSTILE = [
    "`touch${IFS}ran-backtick`#x\\",
    "$(touch${IFS}ran-subshell)$HOME",
    ";touch${IFS}ran-semicolon;&&|<>",
    '"\\"\\n!*?[a-z]~{a,b}%^()=+',
    "&touch${IFS}ran-ampersand&:/@,.-_",
  ];
  const hostileSecrets = Object.fromEntries(Object.keys(SECRET_CONFIG_KEYS).map((name, i) => [name, `${HOSTILE[i % HOSTILE.length]}Aa1${i}`.padEnd(16, "z")]));

  test.each(["dev", "prod"])("%s: passwords holding every character allowed come back exact from bash and dotenv, for both consumers and targets, and nothing runs", async (stack) => {
    const run = await runProgram(stack, hostileSecrets);
    const outputs = Object.fromEntries(Object.entries(run.outputs).map(([k, v]) => [k, v.value]));
    const file = path.join(dir, `hostile-${stack}.json`);
    fs.writeFileSync(file, JSON.stringify(outputs));
    const serviceEnv = outputs.serviceEnv as Record<"host" | "inNetwork", Record<string, Record<string, string>>>;
    const seen = new Set<string>();
    for (const [target, key] of [["host", "host"], ["network", "inNetwork"]] as const) {
      for (const consumer of ["advanced-trading-platform", "trading-simulation"]) {
        const workdir = fs.mkdtempSync(path.join(dir, "source-"));
        const out = path.join(workdir, ".env");
        const result = env("--consumer", consumer, "--target", target, "--out", out, "--from-json", file);
        expect(result.status, result.stderr).toBe(0);
        const expected = serviceEnv[key][consumer];
        const text = fs.readFileSync(out, "utf8");
        expect(readDotenv(text), `dotenv, ${consumer} ${target}`).toEqual(expected);
        expect(dotenv.parse(text, { fast: true } as dotenv.DotenvParseOptions), `dotenv fast, ${consumer} ${target}`).toEqual(expected);
        expect(sourceInBash(out, workdir), `bash, ${consumer} ${target}`).toEqual(expected);
        expect(fs.readdirSync(workdir), "a command in a value ran").toEqual([".env"]);
        for (const value of Object.values(expected)) seen.add(value);
      }
    }
    // The test could fail: the raw hostile passwords are among the values compared.
    expect([...seen].filter((value) => Object.values(hostileSecrets).includes(value)).length).toBeGreaterThan(0);
  });
});
