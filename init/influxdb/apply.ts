// The InfluxDB init hook, run from `pulumi up` once the container is healthy (setup mode has made
// the org, the market-data bucket and the admin token). Runs inside the serialised dynamic provider
// (see init/hook.ts): the InfluxDB client packages are required inside the functions.
//
// With the admin token, through the InfluxDB 2 HTTP API: the stack's buckets with their retention,
// the downsampling task, and two tokens for services (read; read and write), each scoped to the
// stack's buckets. Everything is looked up by name (buckets, task) or description (tokens) first,
// created only when missing and patched only when it differs, so a re-run changes nothing.
import type { InfluxBucketSpec, InfluxTokenSpec } from "../../components/influxdb-spec";

export interface InfluxdbInitInputs extends Record<string, unknown> {
  /** sha256 of the hook's serialised code (init/hook-resource.ts): a code change re-runs the hook. */
  hookVersion: string;
  url: string;
  adminToken: string;
  org: string;
  buckets: InfluxBucketSpec[];
  task: { name: string; flux: string; description: string };
  /** Token specs by key ("read", "write"). */
  tokens: Record<string, InfluxTokenSpec>;
  timeoutSeconds: number;
  /** Changes when the container is replaced. */
  serverId: string;
}

export interface InfluxdbInitResult extends Record<string, unknown> {
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
  const { InfluxDB } = require("@influxdata/influxdb-client") as typeof import("@influxdata/influxdb-client");
  const apis = require("@influxdata/influxdb-client-apis") as typeof import("@influxdata/influxdb-client-apis");
  const influx = new InfluxDB({ url: inputs.url, token: inputs.adminToken, timeout: 10000 });
  const changed: string[] = [];

  await waitForReady(new apis.HealthAPI(influx), inputs);

  const orgs = await new apis.OrgsAPI(influx).getOrgs({ org: inputs.org });
  const org = orgs.orgs?.find((o) => o.name === inputs.org);
  if (!org?.id) throw new Error(`InfluxDB ${inputs.url}: organization ${inputs.org} not found; setup mode should have created it (is the data volume from another setup?)`);
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

  return { orgID, bucketIds, taskID, tokenValues, changedThisRun: changed };
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
