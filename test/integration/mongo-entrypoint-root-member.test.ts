// On Kubernetes the MongoDB members are identical pods: each carries the root user's settings, and
// the wrapper (init/scripts/mongo-entrypoint.sh) keeps them only on the pod named in
// MONGO_ROOT_MEMBER_HOSTNAME. Run with bash against a stand-in of the image's entrypoint that
// records the environment it is handed.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, test } from "vitest";
import { ROOT } from "../support/pulumi";

const WRAPPER = path.join(ROOT, "init/scripts/mongo-entrypoint.sh");

function runWrapper(env: Record<string, string>): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-mongo-root-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const seen = path.join(dir, "env");
  fs.writeFileSync(path.join(bin, "docker-entrypoint.sh"), `#!/bin/sh\nenv > ${seen}\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "keyfile-source"), "a".repeat(756), { mode: 0o440 });
  const result = spawnSync("bash", [WRAPPER, "mongod"], {
    encoding: "utf8",
    env: { PATH: `${bin}:${process.env.PATH}`, MONGO_KEYFILE_SOURCE: path.join(dir, "keyfile-source"), MONGO_KEYFILE: path.join(dir, "keyfile-dir", "keyfile"), ...env },
  });
  expect(result.status, result.stderr).toBe(0);
  const recorded = Object.fromEntries(fs.readFileSync(seen, "utf8").split("\n").filter(Boolean).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
  fs.rmSync(dir, { recursive: true, force: true });
  return recorded;
}

const ROOT_USER = { MONGO_INITDB_ROOT_USERNAME: "root", MONGO_INITDB_ROOT_PASSWORD_FILE: "/run/secrets/mongo-root-password" };

describe("mongo wrapper: only the named pod creates the root user", () => {
  test("another pod's name: the root user's settings are dropped before the image's entrypoint", () => {
    const env = runWrapper({ ...ROOT_USER, MONGO_ROOT_MEMBER_HOSTNAME: `not-${os.hostname()}` });
    expect(env.MONGO_INITDB_ROOT_USERNAME).toBeUndefined();
    expect(env.MONGO_INITDB_ROOT_PASSWORD_FILE).toBeUndefined();
  });

  test("this pod's name: kept", () => {
    const env = runWrapper({ ...ROOT_USER, MONGO_ROOT_MEMBER_HOSTNAME: fs.readFileSync("/proc/sys/kernel/hostname", "utf8").trim() });
    expect(env).toMatchObject(ROOT_USER);
  });

  test("Docker (no MONGO_ROOT_MEMBER_HOSTNAME): whatever the member was given is kept", () => {
    expect(runWrapper(ROOT_USER)).toMatchObject(ROOT_USER);
    expect(runWrapper({}).MONGO_INITDB_ROOT_USERNAME).toBeUndefined();
  });
});
