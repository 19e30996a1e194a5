// init/scripts/influxdb-entrypoint.sh run with bash on this machine. No influxd binary exists in
// the npm or Debian registries, so `influxd` here is a recorder on PATH that writes down how it was
// called (the flags are those of `influxd recovery user update` in InfluxDB 2.7's CLI reference:
// --bolt-path, --username, --password), and the image's entrypoint is a recorder too.
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { containerFiles, ownership } from "../support/container";
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
      INFLUXDB_ADMIN_USER: "admin",
      INFLUXDB_ADMIN_PASSWORD_FILE: path.join(dir, "password"),
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
  const result = run({ INFLUXDB_ADMIN_PASSWORD_FILE: path.join(dir, "nope") });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain(`INFLUXDB_ADMIN_PASSWORD_FILE (${dir}/nope) is missing or empty`);
});

// As on Kubernetes: started as the image's influxdb user (uid/gid 1000, fsGroup 1000), the volume's
// root root:1000 2775, the password a Secret file root:1000 0440. The recorders also note who ran
// them, and `influxd recovery` writes to the bolt file as the real one does.
test("started as the influxdb user (Kubernetes): setup mode on an empty volume, then recovery of a kept bolt file, with no chown", () => {
  const user = { uid: 1000, gid: 1000 };
  const files = containerFiles("influxdb-entrypoint", "kubernetes", user);
  try {
    const calls = path.join(files.dir, "calls");
    fs.mkdirSync(calls, { mode: 0o1777 });
    fs.chmodSync(calls, 0o1777);
    const recorder = (name: string, extra = "") => `#!/bin/sh\nprintf '%s %s\\n' "$(id -u)" "$*" >> "${calls}/${name}"\n${extra}`;
    fs.writeFileSync(path.join(files.dir, "influxd"), recorder("influxd", `if [ "$1" = recovery ]; then printf 'recovered\\n' >> "$5"; fi\n`));
    fs.writeFileSync(path.join(files.dir, "image-entrypoint"), recorder("image-entrypoint"));
    files.script(path.join(files.dir, "influxd"));
    files.script(path.join(files.dir, "image-entrypoint"));
    const wrapper = files.script(SCRIPT, "trading-influxdb-entrypoint.sh");
    const volume = files.volume("var-lib-influxdb2");
    const bolt = path.join(volume, "influxd.bolt");
    const marker = path.join(volume, ".trading-db-stack-admin-password.sha256");
    const secret = (password: string) => files.secret("influxdb-admin-password", password);
    const env = {
      PATH: `${files.bin}:/usr/bin:/bin`,
      INFLUXDB_ADMIN_USER: "admin",
      INFLUXDB_ADMIN_PASSWORD_FILE: secret("setup-Password-123456"),
      INFLUXD_BOLT_PATH: bolt,
      INFLUXDB_IMAGE_ENTRYPOINT: path.join(files.bin, "image-entrypoint"),
    };
    const recorded = (name: string) => (fs.existsSync(path.join(calls, name)) ? fs.readFileSync(path.join(calls, name), "utf8").trim().split("\n") : []);
    const sha256 = (text: string) => `${createHash("sha256").update(text).digest("hex")}\n`;

    const empty = files.run(wrapper, ["influxd"], env);
    expect(empty.stderr).toBe("");
    expect(empty.status).toBe(0);
    expect(recorded("influxd")).toEqual([]);
    expect(fs.readFileSync(marker, "utf8")).toBe(sha256("setup-Password-123456"));
    expect(ownership(marker)).toEqual({ uid: 1000, gid: 1000, mode: "0600" });

    // Setup mode made the bolt file (as influxdb); the volume is kept and a new stack declares a new password.
    fs.writeFileSync(bolt, "bolt\n", { mode: 0o600 });
    fs.chownSync(bolt, user.uid, user.gid);
    secret("kept-Volume-Password-7890");
    const kept = files.run(wrapper, ["influxd"], env);
    expect(kept.stderr).toBe("influxdb-entrypoint: applying the declared password of admin to the existing bolt file\n");
    expect(kept.status).toBe(0);
    expect(recorded("influxd")).toEqual([`1000 recovery user update --bolt-path ${bolt} --username admin --password kept-Volume-Password-7890`]);
    expect(fs.readFileSync(bolt, "utf8")).toBe("bolt\nrecovered\n");
    expect(ownership(bolt)).toEqual({ uid: 1000, gid: 1000, mode: "0600" });
    expect(fs.readFileSync(marker, "utf8")).toBe(sha256("kept-Volume-Password-7890"));

    expect(files.run(wrapper, ["influxd"], env).status).toBe(0);
    expect(recorded("influxd")).toHaveLength(1); // the same password again: nothing to do
    expect(recorded("image-entrypoint")).toEqual(["1000 influxd", "1000 influxd", "1000 influxd"]);
    expect(ownership(volume)).toEqual({ uid: 0, gid: 1000, mode: "2775" });
  } finally {
    fs.rmSync(files.dir, { recursive: true, force: true });
  }
});

test("a CLI config left by an earlier release's setup mode (the operator token in clear on the config volume) is removed at start", () => {
  const configs = path.join(dir, "influx-configs");
  fs.writeFileSync(configs, '[default]\n  url = "http://localhost:8086"\n  token = "operator-token-in-clear"\n');
  const result = run({ INFLUX_CONFIGS_PATH: configs });
  expect(result.status, result.stderr).toBe(0);
  expect(result.stderr).toContain(`removed ${configs}`);
  expect(fs.existsSync(configs)).toBe(false);
  expect(run({ INFLUX_CONFIGS_PATH: configs }).stderr).not.toContain("removed");
});
