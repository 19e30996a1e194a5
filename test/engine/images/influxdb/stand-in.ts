// The commands of the InfluxDB stand-in image, one program (bundled into one file at image build)
// that /usr/local/bin/{influxd,influx,dasel} run with their own name first: what the official entrypoint (../shared/contracts/images/influxdb/
// entrypoint.sh) and the stack run, and nothing more.
// - influxd: the contract stub (test/support/influxdb-stub.ts) as the server, its state kept in the
//   bolt path as JSON; `influxd recovery user update` rewrites the admin password in that file.
// - influx: ping, setup (writes the CLI config the entrypoint later edits), user/org/bucket list.
// - dasel: the four uses the entrypoint makes of it (read a key, yaml to json, put, delete).
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import YAML from "yaml";
import { startInfluxStub, type InfluxStubState } from "../../../support/influxdb-stub";

const CONTRACT = "/usr/local/share/influxdb-stand-in/influxdb-oss-v2.yml";
const command = process.argv[2] ?? "";
const args = process.argv.slice(3);

function fail(message: string, code = 1): never {
  process.stderr.write(`${command}: ${message}\n`);
  process.exit(code);
}

function flag(name: string, short?: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}` || (short && args[i] === `-${short}`)) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

// ---- influxd ------------------------------------------------------------------------------

function configValue(key: string, env: string, fallback: string): string {
  if (process.env[env]) return process.env[env]!;
  const file = process.env.INFLUXD_CONFIG_PATH;
  if (file && fs.existsSync(file)) {
    const value = YAML.parse(fs.readFileSync(file, "utf8"))?.[key];
    if (value !== undefined && value !== "") return String(value);
  }
  return fallback;
}

async function influxd(): Promise<void> {
  const bolt = flag("bolt-path") ?? configValue("bolt-path", "INFLUXD_BOLT_PATH", "/var/lib/influxdb2/influxd.bolt");
  if (args[0] === "recovery") {
    if (args[1] !== "user" || args[2] !== "update") fail(`recovery ${args.slice(1, 3).join(" ")} is not part of the stand-in`);
    const username = flag("username");
    const password = flag("password");
    if (!username || !password) fail("recovery user update needs --username and --password");
    if (!fs.existsSync(bolt)) fail(`bolt file ${bolt} not found`);
    const state = JSON.parse(fs.readFileSync(bolt, "utf8")) as InfluxStubState;
    if (state.authorizations[0]?.user !== username) fail(`user ${username} not found`);
    fs.writeFileSync(bolt, JSON.stringify({ ...state, adminPassword: password }));
    process.stdout.write(`Updated user ${username}\n`);
    return;
  }
  if (args[0] !== undefined && args[0] !== "run" && !args[0].startsWith("-")) fail(`influxd ${args[0]} is not part of the stand-in`);
  const bind = flag("http-bind-address") ?? configValue("http-bind-address", "INFLUXD_HTTP_BIND_ADDRESS", ":8086");
  // https only when both are set, as influxd (the entrypoint's setup-mode server sets both empty).
  const tlsCert = flag("tls-cert") ?? configValue("tls-cert", "INFLUXD_TLS_CERT", "");
  const tlsKey = flag("tls-key") ?? configValue("tls-key", "INFLUXD_TLS_KEY", "");
  const tls = tlsCert && tlsKey ? { certificate: fs.readFileSync(tlsCert, "utf8"), key: fs.readFileSync(tlsKey, "utf8") } : undefined;
  const port = Number(bind.slice(bind.lastIndexOf(":") + 1));
  const state = fs.existsSync(bolt) ? (JSON.parse(fs.readFileSync(bolt, "utf8")) as InfluxStubState) : undefined;
  fs.mkdirSync(path.dirname(bolt), { recursive: true });
  const stub = await startInfluxStub({
    adminToken: "",
    org: "",
    bucket: "",
    retentionSeconds: 0,
    awaitSetup: true,
    state,
    port,
    host: "0.0.0.0",
    contractPath: CONTRACT,
    onChange: (next) => fs.writeFileSync(bolt, JSON.stringify(next)),
    tls,
  });
  process.stdout.write(`influxd stand-in listening on ${bind}${tls ? " (https)" : ""} (bolt ${bolt})\n`);
  // What the stub found against the contract: in the container's log.
  setInterval(() => {
    for (const violation of stub.violations.splice(0)) process.stderr.write(`contract violation: ${violation}\n`);
  }, 500);
  const stop = () => stub.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

// ---- influx -------------------------------------------------------------------------------

interface CliConfig {
  url: string;
  token: string;
  org: string;
}

const configsPath = () => process.env.INFLUX_CONFIGS_PATH ?? `${process.env.HOME}/.influxdbv2/configs`;

/** The active config of the CLI's TOML file ([name] then url/token/org/active lines). */
function activeConfig(): CliConfig | undefined {
  if (!fs.existsSync(configsPath())) return undefined;
  const sections = fs.readFileSync(configsPath(), "utf8").split(/^\[/m).slice(1);
  for (const section of sections) {
    const value = (key: string) => new RegExp(`^\\s*${key}\\s*=\\s*"?([^"\\n]*)"?`, "m").exec(section)?.[1];
    if (value("active") === "true") return { url: value("url") ?? "", token: value("token") ?? "", org: value("org") ?? "" };
  }
  return undefined;
}

/**
 * GET /health. Over https the server is verified as the Go CLI does: against the system roots, or
 * SSL_CERT_FILE alone when set (a wrong CA fails the ping); --skip-verify is not part of the stand-in.
 */
function ping(host: string): Promise<boolean> {
  const url = new URL("/health", host);
  const ca = url.protocol === "https:" && process.env.SSL_CERT_FILE ? fs.readFileSync(process.env.SSL_CERT_FILE, "utf8") : undefined;
  const get = url.protocol === "https:" ? https.get : http.get;
  return new Promise((resolve) => {
    const request = get(url, { ...(ca ? { ca } : {}), timeout: 5000 }, (reply) => {
      reply.resume();
      resolve(reply.statusCode === 200);
    });
    request.on("error", (error) => {
      process.stderr.write(`influx ping: ${error.message}\n`);
      resolve(false);
    });
    request.on("timeout", () => request.destroy(new Error("timed out")));
  });
}

async function influx(): Promise<void> {
  const config = activeConfig();
  const host = flag("host") ?? process.env.INFLUX_HOST ?? config?.url ?? "http://localhost:8086";
  const token = flag("token", "t") ?? process.env.INFLUX_TOKEN ?? config?.token ?? "";
  const api = async (method: string, p: string, body?: unknown) => {
    const reply = await fetch(`${host}/api/v2${p}`, {
      method,
      headers: { authorization: `Token ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!reply.ok) fail(`${method} ${p}: ${reply.status} ${await reply.text()}`);
    return (await reply.json()) as any;
  };
  const [what, verb] = args;
  if (what === "ping") {
    if (!(await ping(host))) fail(`failed to make request: ${host} not ready`);
    process.stdout.write("OK\n");
    return;
  }
  if (what === "setup") {
    const retention = flag("retention", "r");
    const hours = retention === undefined ? 0 : Number(/^(\d+)h$/.exec(retention)?.[1] ?? fail(`--retention ${retention}: the stand-in takes hours (e.g. 168h)`));
    const body = { username: flag("username", "u"), password: flag("password", "p"), org: flag("org", "o"), bucket: flag("bucket", "b"), token: flag("token", "t"), retentionPeriodSeconds: hours * 3600 };
    const allowed = await api("GET", "/setup");
    if (!allowed.allowed) fail("instance has already been set up");
    const done = await api("POST", "/setup", body);
    const name = flag("name", "n") ?? "default";
    fs.mkdirSync(path.dirname(configsPath()), { recursive: true });
    fs.writeFileSync(configsPath(), `[${name}]\n  url = "${host}"\n  token = "${done.auth.token}"\n  org = "${body.org}"\n  active = true\n`);
    process.stdout.write(`User\tOrganization\tBucket\n${body.username}\t${body.org}\t${body.bucket}\n`);
    return;
  }
  if (verb === "list" && (what === "user" || what === "org" || what === "bucket")) {
    const name = flag("name", "n");
    const query = name === undefined ? "" : `?${what === "org" ? "org" : "name"}=${encodeURIComponent(name)}`;
    const reply = await api("GET", `/${what}s${query}`);
    const rows: Array<{ id: string; name: string }> = reply[`${what}s`] ?? [];
    if (!args.includes("--hide-headers")) process.stdout.write("ID\tName\n");
    for (const row of rows) process.stdout.write(`${row.id}\t${row.name}\n`);
    return;
  }
  fail(`influx ${args.slice(0, 2).join(" ")} is not part of the stand-in`);
}

// ---- dasel --------------------------------------------------------------------------------

/** All of stdin (readFileSync(0) fails with EAGAIN on a non-blocking pipe). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function dasel(): Promise<void> {
  const file = flag("file", "f");
  const selector = flag("selector", "s");
  const read = flag("read", "r") ?? (file?.endsWith(".json") ? "json" : "yaml");
  const write = flag("write", "w");
  const text = file ? fs.readFileSync(file, "utf8") : await readStdin();
  const document = (text.trim() === "" ? {} : read === "json" ? JSON.parse(text) : YAML.parse(text)) as Record<string, unknown>;
  const out = (value: unknown) => process.stdout.write(`${write === "json" || read === "json" ? JSON.stringify(value, null, 2) : YAML.stringify(value)}\n`);
  const verb = args.find((a) => a === "put" || a === "delete");
  if (verb === "put") {
    const key = args[args.indexOf("put") + 1];
    out({ ...document, [key]: flag("value", "v") ?? "" });
  } else if (verb === "delete") {
    const key = args[args.indexOf("delete") + 1];
    if (!(key in document)) fail(`could not delete ${key}: not found`);
    const { [key]: _removed, ...rest } = document;
    out(rest);
  } else if (selector !== undefined) {
    const value = document[selector.replace(/^\./, "")];
    if (value === undefined) fail(`could not find ${selector}`);
    process.stdout.write(`${typeof value === "object" ? JSON.stringify(value) : String(value)}\n`);
  } else {
    out(document);
  }
}

const commands: Record<string, () => Promise<void> | void> = { influxd, influx, dasel };
const run = commands[command];
if (!run) fail(`first argument ${command}: expected influxd, influx or dasel`);
Promise.resolve(run()).catch((error: Error) => fail(error.message));
