// The InfluxDB init hook, run from `pulumi up` once the container is healthy. Runs inside the
// serialised dynamic provider (see init/hook.ts): the InfluxDB client packages are required inside
// the functions.
//
// A new server (GET /api/v2/setup allows onboarding) is set up here, through POST /api/v2/setup:
// the admin user with the declared password, the org, the first bucket and the declared operator
// token. The image's setup mode would do it with `influx setup --password … --token …` (both on a
// command line) and write the token in clear into the CLI config on the config volume.
//
// It logs in with the declared admin token; on a bolt file kept from an earlier stack, where that
// token is unknown, it signs in with the admin password instead (the wrapper entrypoint has set it
// with `influxd recovery`) and uses, or makes, its own token for the org.
// Then, through the InfluxDB 2 HTTP API: the stack's buckets with their retention,
// the downsampling task, and two tokens for services (read; read and write), each scoped to the
// stack's buckets. Everything is looked up by name (buckets, task) or description (tokens) first,
// created only when missing and patched only when it differs, so a re-run changes nothing.
// Over https (`tls`) every request verifies the server against the stack's CA (tlsCa).
import type { InfluxBucketSpec, InfluxTokenSpec } from "../../components/influxdb-spec";
import { withAccess, type KubernetesTarget, type ServerAccess } from "../access";

export interface InfluxdbInitInputs extends Record<string, unknown> {
  /** sha256 of the hook's serialised code (init/hook-resource.ts): a code change re-runs the hook. */
  hookVersion: string;
  url: string;
  /** Under Kubernetes: the server's pod, reached through a port-forward to the port of `url` (init/access.ts). */
  kubernetes?: KubernetesTarget;
  /** With `tls` (an https url): the stack's CA certificate (PEM), which the server's certificate must chain to. */
  tlsCa?: string;
  adminToken: string;
  adminUser: string;
  adminPassword: string;
  org: string;
  /** The bucket onboarding creates with the org (the first of `buckets`, which the hook then keeps as declared). */
  setupBucket: string;
  buckets: InfluxBucketSpec[];
  task: { name: string; flux: string; description: string };
  /** Token specs by key ("read", "write"). */
  tokens: Record<string, InfluxTokenSpec>;
  timeoutSeconds: number;
  /** Changes when the container is replaced. */
  serverId: string;
}

export interface InfluxdbInitResult extends Record<string, unknown> {
  /** The token the hook worked with: the declared admin token, or the one it signed in for. */
  operatorToken: string;
  /** Whether the declared token was refused and the hook signed in with the admin password. */
  signedIn: boolean;
  /** Whether this run set a new server up (onboarding). */
  setUp: boolean;
  orgID: string;
  /** Bucket id per name. */
  bucketIds: Record<string, string>;
  taskID: string;
  /** Token value per key of `tokens`: secret outputs. */
  tokenValues: Record<string, string>;
  /** What this run changed: "created bucket trades", "retention of market-data", ... */
  changedThisRun: string[];
}

export async function applyInfluxdbInit(inputs: InfluxdbInitInputs): Promise<InfluxdbInitResult> {
  const url = new URL(inputs.url);
  // Requests go to `base`; messages name inputs.url, the server as the stack knows it.
  return withAccess(influxdbInitServer(inputs), (server) => initialise(inputs, inputs.kubernetes ? `${url.protocol}//${server.host}:${server.port}` : inputs.url));
}

/** The InfluxDB server at inputs.url, as the hook reaches it. */
export function influxdbInitServer(inputs: InfluxdbInitInputs): ServerAccess {
  const url = new URL(inputs.url);
  return { host: url.hostname, port: Number(url.port) || (url.protocol === "https:" ? 443 : 80), kubernetes: inputs.kubernetes };
}

/**
 * fetch for the hook's own requests (setup, sign-in): over https through an agent that verifies the
 * server against the stack's CA (the global fetch takes no CA).
 */
export function serverFetch(tlsCa: string | undefined): typeof fetch {
  if (tlsCa === undefined) return fetch;
  const undici = require("undici") as typeof import("undici");
  const dispatcher = new undici.Agent({ connect: { ca: tlsCa } });
  return ((url: string, init?: Record<string, unknown>) => undici.fetch(url, { ...init, dispatcher })) as unknown as typeof fetch;
}

async function initialise(inputs: InfluxdbInitInputs, base: string): Promise<InfluxdbInitResult> {
  const { InfluxDB } = require("@influxdata/influxdb-client") as typeof import("@influxdata/influxdb-client");
  const apis = require("@influxdata/influxdb-client-apis") as typeof import("@influxdata/influxdb-client-apis");
  const changed: string[] = [];
  // The client's Node transport hands transportOptions to https.request: the CA it verifies against.
  const client = (token?: string) => new InfluxDB({ url: base, token, timeout: 10000, ...(inputs.tlsCa ? { transportOptions: { ca: inputs.tlsCa } } : {}) });
  const request = serverFetch(inputs.tlsCa);
  await waitForReady(new apis.HealthAPI(client()), inputs);
  const setUp = await setUpIfNew(inputs, base, request);
  if (setUp) changed.push(`set up: admin ${inputs.adminUser}, org ${inputs.org}, bucket ${inputs.setupBucket}, the declared operator token`);
  const { token, signedIn } = await workingToken(inputs, base, request);
  if (signedIn) changed.push("signed in with the admin password (the declared token is unknown to this bolt file)");
  const influx = client(token);

  const orgs = await new apis.OrgsAPI(influx).getOrgs({ org: inputs.org });
  const org = orgs.orgs?.find((o) => o.name === inputs.org);
  if (!org?.id) throw new Error(`InfluxDB ${inputs.url}: organization ${inputs.org} not found; the server was set up without it (is the data volume from another stack's setup?)`);
  const orgID = org.id;

  // Buckets
  const bucketsApi = new apis.BucketsAPI(influx);
  const existing = (await bucketsApi.getBuckets({ orgID, limit: 100 })).buckets ?? [];
  const bucketIds: Record<string, string> = {};
  for (const wanted of inputs.buckets) {
    const rules = [{ type: "expire" as const, everySeconds: wanted.retentionSeconds }];
    const found = existing.find((b) => b.name === wanted.name);
    if (!found) {
      const created = await bucketsApi.postBuckets({ body: { orgID, name: wanted.name, description: wanted.description, retentionRules: rules } });
      bucketIds[wanted.name] = created.id!;
      changed.push(`created bucket ${wanted.name}`);
      continue;
    }
    bucketIds[wanted.name] = found.id!;
    const retention = found.retentionRules?.[0]?.everySeconds ?? 0;
    if (retention !== wanted.retentionSeconds || (found.description ?? "") !== wanted.description) {
      await bucketsApi.patchBucketsID({ bucketID: found.id!, body: { description: wanted.description, retentionRules: rules } });
      changed.push(`updated bucket ${wanted.name}`);
    }
  }

  // Downsampling task
  const tasksApi = new apis.TasksAPI(influx);
  const tasks = (await tasksApi.getTasks({ orgID, name: inputs.task.name })).tasks ?? [];
  let taskID: string;
  if (tasks.length === 0) {
    const created = await tasksApi.postTasks({ body: { orgID, flux: inputs.task.flux, description: inputs.task.description, status: "active" } });
    taskID = created.id;
    changed.push(`created task ${inputs.task.name}`);
  } else {
    const task = tasks[0];
    taskID = task.id;
    if (task.flux !== inputs.task.flux || task.status !== "active" || (task.description ?? "") !== inputs.task.description) {
      await tasksApi.patchTasksID({ taskID, body: { flux: inputs.task.flux, description: inputs.task.description, status: "active" } });
      changed.push(`updated task ${inputs.task.name}`);
    }
  }

  // Tokens: every permission names the org and a bucket id, so comparing sorted strings is exact.
  const authApi = new apis.AuthorizationsAPI(influx);
  const authorizations = (await authApi.getAuthorizations({ orgID })).authorizations ?? [];
  const tokenValues: Record<string, string> = {};
  for (const [key, spec] of Object.entries(inputs.tokens)) {
    const permissions = [
      // Read on the org itself, so clients may name the org instead of its id.
      { action: "read" as const, resource: { type: "orgs" as const, id: orgID, orgID } },
      ...spec.actions.flatMap((action) =>
        inputs.buckets.map((b) => ({ action, resource: { type: "buckets" as const, id: bucketIds[b.name], orgID } })),
      ),
    ];
    const signature = (list: Array<{ action?: string; resource?: { type?: string; id?: string } }>) =>
      list.map((p) => `${p.action}:${p.resource?.type}:${p.resource?.id ?? "*"}`).sort().join(",");
    const matches = authorizations.filter((a) => a.description === spec.description);
    const current = matches.find((a) => a.status === "active" && signature(a.permissions ?? []) === signature(permissions) && a.token);
    if (current) {
      tokenValues[key] = current.token!;
    } else {
      const created = await authApi.postAuthorizations({ body: { orgID, description: spec.description, status: "active", permissions } });
      if (!created.token) throw new Error(`InfluxDB ${inputs.url}: the new authorization "${spec.description}" came back without a token`);
      tokenValues[key] = created.token;
      changed.push(`created token "${spec.description}"`);
    }
    // Older tokens under this description (scopes changed): revoked, so only the current one works.
    for (const stale of matches.filter((a) => a.id !== current?.id)) {
      await authApi.deleteAuthorizationsID({ authID: stale.id! });
      changed.push(`revoked an old token "${spec.description}"`);
    }
  }

  return { operatorToken: token, signedIn, setUp, orgID, bucketIds, taskID, tokenValues, changedThisRun: changed };
}

/** What the hook's own token is called when it had to sign in for one. */
export const SIGNED_IN_TOKEN_DESCRIPTION = "trading-db-stack: init hook (signed in with the admin password)";

/**
 * Onboards a server that has never been set up: GET /api/v2/setup says whether it may be, POST
 * makes the admin user, org, bucket and operator token in one step (InfluxDB refuses a second).
 * Returns whether it did.
 */
async function setUpIfNew(inputs: InfluxdbInitInputs, base: string, fetch: typeof globalThis.fetch): Promise<boolean> {
  const api = `${base}/api/v2/setup`;
  const allowed = await fetch(api);
  if (!allowed.ok) throw new Error(`InfluxDB ${inputs.url}: GET /api/v2/setup answered ${allowed.status}: ${await allowed.text()}`);
  if (!((await allowed.json()) as { allowed?: boolean }).allowed) return false;
  const body = { username: inputs.adminUser, password: inputs.adminPassword, org: inputs.org, bucket: inputs.setupBucket, token: inputs.adminToken };
  const reply = await fetch(api, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  // Messages never quote the body: it holds the password and the token.
  if (reply.status !== 201) throw new Error(`InfluxDB ${inputs.url}: POST /api/v2/setup answered ${reply.status}: ${(await reply.text()).slice(0, 300)}`);
  return true;
}

/**
 * The declared admin token if the server knows it; else a token of the admin user's, found or made
 * through a session opened with the admin password (POST /api/v2/signin, Basic authentication).
 */
async function workingToken(inputs: InfluxdbInitInputs, base: string, fetch: typeof globalThis.fetch): Promise<{ token: string; signedIn: boolean }> {
  const api = (path: string) => `${base}/api/v2${path}`;
  const orgQuery = `/orgs?org=${encodeURIComponent(inputs.org)}`;
  const declared = await fetch(api(orgQuery), { headers: { authorization: `Token ${inputs.adminToken}` } });
  if (declared.ok) return { token: inputs.adminToken, signedIn: false };
  if (declared.status !== 401) throw new Error(`InfluxDB ${inputs.url}: GET ${orgQuery} answered ${declared.status}: ${await declared.text()}`);

  const basic = Buffer.from(`${inputs.adminUser}:${inputs.adminPassword}`).toString("base64");
  const signin = await fetch(api("/signin"), { method: "POST", headers: { authorization: `Basic ${basic}` } });
  const cookie = signin.headers.get("set-cookie")?.split(";")[0];
  if (signin.status !== 204 || !cookie) {
    throw new Error(
      `InfluxDB ${inputs.url}: the declared admin token is refused and ${inputs.adminUser} cannot sign in with the declared password (${signin.status}); ` +
        "the wrapper entrypoint sets that password on every start: see the container's log",
    );
  }
  const session = async (method: string, path: string, body?: unknown) => {
    const reply = await fetch(api(path), { method, headers: { cookie, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!reply.ok) throw new Error(`InfluxDB ${inputs.url}: ${method} ${path} with the admin's session answered ${reply.status}: ${await reply.text()}`);
    return (await reply.json()) as any;
  };
  const org = ((await session("GET", orgQuery)).orgs ?? [])[0];
  if (!org?.id) throw new Error(`InfluxDB ${inputs.url}: organization ${inputs.org} not found`);
  const existing = ((await session("GET", `/authorizations?orgID=${org.id}`)).authorizations ?? []).find(
    (a: { description?: string; status?: string; token?: string }) => a.description === SIGNED_IN_TOKEN_DESCRIPTION && a.status === "active" && a.token,
  );
  if (existing) return { token: existing.token, signedIn: true };
  const readWrite = (type: string) => ["read", "write"].map((action) => ({ action, resource: { type, orgID: org.id } }));
  const created = await session("POST", "/authorizations", {
    orgID: org.id,
    description: SIGNED_IN_TOKEN_DESCRIPTION,
    status: "active",
    permissions: [{ action: "read", resource: { type: "orgs", id: org.id, orgID: org.id } }, ...readWrite("buckets"), ...readWrite("tasks"), ...readWrite("authorizations"), { action: "read", resource: { type: "users", orgID: org.id } }],
  });
  return { token: created.token, signedIn: true };
}

/** /health answers 200 with status pass once the server is up; a connection error or 503 means wait. */
async function waitForReady(health: { getHealth(): Promise<{ status?: string }> }, inputs: InfluxdbInitInputs): Promise<void> {
  const deadline = Date.now() + inputs.timeoutSeconds * 1000;
  let last = "";
  for (let attempt = 1; ; attempt++) {
    try {
      const reply = await health.getHealth();
      if (reply.status === "pass") return;
      last = `status ${reply.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`InfluxDB ${inputs.url}: not healthy after ${inputs.timeoutSeconds}s (${attempt} attempts); last: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 1000)));
  }
}
