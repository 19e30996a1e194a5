// init/scripts/influxdb-entrypoint.sh run with bash on this machine. No influxd binary exists in
// the npm or Debian registries, so `influxd` here is a recorder on PATH that writes down how it was
// called (the flags are those of `influxd recovery user update` in InfluxDB 2.7's CLI reference:
// --bolt-path, --username, --password), and the image's entrypoint is a recorder too.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ROOT } from "../support/pulumi";

const SCRIPT = path.join(ROOT, "init/scripts/influxdb-entrypoint.sh");
let dir: string;

const recorder = (name: string) => `#!/bin/sh\nprintf '%s\\n' "$*" >> "${dir}/${name}.calls"\n`;
const calls = (name: string) => (fs.existsSync(path.join(dir, `${name}.calls`)) ? fs.readFileSync(path.join(dir, `${name}.calls`), "utf8").trim().split("\n") : []);

function run(env: Record<string, string> = {}) {
  return spawnSync("bash", [SCRIPT, "influxd"], {
    encoding: "utf8",
    env: {
      PATH: `${dir}/bin:${process.env.PATH}`,
      DOCKER_INFLUXDB_INIT_USERNAME: "admin",
      DOCKER_INFLUXDB_INIT_PASSWORD_FILE: path.join(dir, "password"),
      INFLUXD_BOLT_PATH: path.join(dir, "data/influxd.bolt"),
      INFLUXDB_IMAGE_ENTRYPOINT: path.join(dir, "bin/image-entrypoint"),
      ...env,
    },
  });
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "influx-entrypoint-"));
  fs.mkdirSync(path.join(dir, "bin"));
  for (const name of ["influxd", "image-entrypoint"]) fs.writeFileSync(path.join(dir, "bin", name), recorder(name), { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "password"), "first-Password-123456");
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("an empty volume: setup mode will set the password, so no recovery; the image's entrypoint runs with the arguments", () => {
  const result = run();
  expect(result.status, result.stderr).toBe(0);
  expect(calls("influxd")).toEqual([]);
  expect(calls("image-entrypoint")).toEqual(["influxd"]);
});

test("a kept bolt file and a new password: `influxd recovery user update` first, once", () => {
  fs.writeFileSync(path.join(dir, "data/influxd.bolt"), "bolt");
  fs.writeFileSync(path.join(dir, "password"), "new-Stack-Password-7890");
  expect(run().status).toBe(0);
  expect(calls("influxd")).toEqual([`recovery user update --bolt-path ${dir}/data/influxd.bolt --username admin --password new-Stack-Password-7890`]);
  expect(run().status).toBe(0);
  expect(calls("influxd")).toHaveLength(1); // the same password again: nothing to do
  expect(calls("image-entrypoint")).toEqual(["influxd", "influxd", "influxd"]);
  expect((fs.statSync(path.join(dir, "data/.trading-db-stack-admin-password.sha256")).mode & 0o777).toString(8)).toBe("600");
});

test("a missing password file stops the start, naming it", () => {
  const result = run({ DOCKER_INFLUXDB_INIT_PASSWORD_FILE: path.join(dir, "nope") });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain(`DOCKER_INFLUXDB_INIT_PASSWORD_FILE (${dir}/nope) is missing or empty`);
});
