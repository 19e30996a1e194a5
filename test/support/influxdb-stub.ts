// A stand-in InfluxDB 2 for the integration tests (no InfluxDB binary exists in the npm or Debian
// registries). Every request it receives, and every response it sends, is checked against the
// official OpenAPI contract of InfluxDB OSS 2 (../shared/contracts/influxdb-oss-v2.yml). A request
// the contract does not allow is answered 400 and recorded in `violations`; tests assert that list
// is empty. Behind the contract it keeps a small in-memory state (orgs, buckets, tasks,
// authorizations), starting from what setup mode creates, and serves it back, so idempotence is
// tested against what the hook itself created. Requests are authorised as InfluxDB does: a
// `Token` of an active authorization, or the session cookie POST /api/v2/signin (Basic
// authentication with the admin's password) hands out.
//
// The same code is the InfluxDB of the real-engine suite's stand-in image (test/engine/images/
// influxdb): there it starts before setup (GET/POST /api/v2/setup, as `influx setup` uses them)
// and keeps its state in the bolt path as JSON, so a restart or a kept volume finds it again.
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import type { AddressInfo } from "net";
import * as path from "path";
import addFormats from "ajv-formats";
import { OpenAPIBackend, type Request as OpenApiRequest } from "openapi-backend";
import YAML from "yaml";

/** ../shared/contracts beside the repository (this file is test/support/influxdb-stub.ts). */
export const CONTRACT = path.resolve(__dirname, "../../../shared/contracts/influxdb-oss-v2.yml");

export interface StubRequest {
  method: string;
  path: string;
  operationId: string | undefined;
  status: number;
}

interface Bucket {
  id: string;
  orgID: string;
  name: string;
  description?: string;
  type: "user" | "system";
  retentionRules: Array<{ type: "expire"; everySeconds: number; shardGroupDurationSeconds?: number }>;
  createdAt: string;
  updatedAt: string;
}
interface Task {
  id: string;
  orgID: string;
  org: string;
  name: string;
  flux: string;
  description?: string;
  status: "active" | "inactive";
  every?: string;
  offset?: string;
  createdAt: string;
  updatedAt: string;
}
interface Authorization {
  id: string;
  orgID: string;
  org: string;
  userID: string;
  user: string;
  token: string;
  status: "active" | "inactive";
  description?: string;
  permissions: Array<{ action: "read" | "write"; resource: { type: string; id?: string; orgID?: string } }>;
  createdAt: string;
  updatedAt: string;
}

/** What the stand-in image keeps in its bolt path. */
export interface InfluxStubState {
  adminToken: string;
  adminPassword: string;
  org: { id: string; name: string };
  buckets: Bucket[];
  tasks: Task[];
  authorizations: Authorization[];
}

export interface InfluxStubOptions {
  adminToken: string;
  adminPassword?: string;
  org: string;
  bucket: string;
  retentionSeconds: number;
  /** Default: a free loopback port. */
  port?: number;
  host?: string;
  contractPath?: string;
  /** Start before setup, as a new influxd does (the other options are then ignored). */
  awaitSetup?: boolean;
  /** Start from a kept state. */
  state?: InfluxStubState;
  /** Called after every request that changed the state. */
  onChange?(state: InfluxStubState): void;
  /** Serve https only with this certificate and key (PEM), as influxd does with tls-cert and tls-key. */
  tls?: { certificate: string; key: string };
}

export interface InfluxStub {
  url: string;
  /** False until POST /api/v2/setup, when started with awaitSetup. */
  onboarded: boolean;
  adminToken: string;
  /** The admin user's password (what `influxd recovery user update` would have set). */
  adminPassword: string;
  org: { id: string; name: string };
  /** Contract violations: requests the contract does not allow, responses that do not match it. */
  violations: string[];
  requests: StubRequest[];
  buckets: Bucket[];
  tasks: Task[];
  authorizations: Authorization[];
  /** Answer /health with 503 this many more times (a server still starting). */
  unhealthyFor: number;
  close(): Promise<void>;
}

const newId = () => randomBytes(8).toString("hex");
const now = () => new Date().toISOString();

/** Two routers: most operations live under /api/v2; a few (/health, /ping) declare `servers: [{url: ''}]`. */
async function loadContract(contract: string): Promise<{ api: OpenAPIBackend; root: OpenAPIBackend }> {
  if (!fs.existsSync(contract)) throw new Error(`${contract} is missing: the InfluxDB tests need ../shared/contracts beside the repository`);
  const definition = YAML.parse(fs.readFileSync(contract, "utf8"));
  const rootPaths: Record<string, Record<string, unknown>> = {};
  for (const [p, item] of Object.entries<Record<string, { servers?: Array<{ url: string }> }>>(definition.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (op && typeof op === "object" && op.servers?.some((s) => s.url === "")) (rootPaths[p] ??= {})[method] = op;
    }
  }
  const customizeAjv = (ajv: Parameters<typeof addFormats>[0]) => {
    addFormats(ajv);
    return ajv;
  };
  // quick: the published document has $ref siblings that strict OpenAPI validation rejects; the schemas themselves are used as they are.
  const api = new OpenAPIBackend({ definition, apiRoot: "/api/v2", quick: true, validate: true, customizeAjv });
  const root = new OpenAPIBackend({ definition: { ...definition, paths: rootPaths }, apiRoot: "/", quick: true, validate: true, customizeAjv });
  await Promise.all([api.init(), root.init()]);
  return { api, root };
}

/** What setup leaves: the org, its first bucket, the admin user and the operator token. */
function setupState(o: { adminToken: string; adminPassword: string; org: string; bucket: string; retentionSeconds: number; user?: string }): InfluxStubState {
  const org = { id: newId(), name: o.org };
  const adminUser = { id: newId(), name: o.user ?? "admin" };
  const stamp = now();
  return {
    adminToken: o.adminToken,
    adminPassword: o.adminPassword,
    org,
    buckets: [{ id: newId(), orgID: org.id, name: o.bucket, type: "user", retentionRules: [{ type: "expire", everySeconds: o.retentionSeconds, shardGroupDurationSeconds: 86400 }], createdAt: stamp, updatedAt: stamp }],
    tasks: [],
    authorizations: [
      {
        id: newId(),
        orgID: org.id,
        org: org.name,
        userID: adminUser.id,
        user: adminUser.name,
        token: o.adminToken,
        status: "active",
        description: `${adminUser.name}'s Token`,
        permissions: [{ action: "read", resource: { type: "orgs" } }, { action: "write", resource: { type: "orgs" } }],
        createdAt: stamp,
        updatedAt: stamp,
      },
    ],
  };
}

export function stubState(stub: InfluxStub): InfluxStubState {
  const { adminToken, adminPassword, org, buckets, tasks, authorizations } = stub;
  return { adminToken, adminPassword, org, buckets, tasks, authorizations };
}

export async function startInfluxStub(options: InfluxStubOptions): Promise<InfluxStub> {
  const { api, root } = await loadContract(options.contractPath ?? CONTRACT);
  const host = options.host ?? "127.0.0.1";
  const initial =
    options.state ??
    (options.awaitSetup
      ? { adminToken: "", adminPassword: "", org: { id: "", name: "" }, buckets: [], tasks: [], authorizations: [] }
      : setupState({ ...options, adminPassword: options.adminPassword ?? randomBytes(16).toString("hex") }));
  const stub: InfluxStub = {
    url: "", // set once listening: the stub binds port 0 unless told a port, and reads which it got
    onboarded: !(options.awaitSetup && !options.state),
    ...initial,
    violations: [],
    requests: [],
    unhealthyFor: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const sessions = new Set<string>();
  const authorised = (headers: http.IncomingHttpHeaders) => {
    const token = /^Token (.+)$/.exec(headers.authorization ?? "")?.[1];
    if (token !== undefined) return stub.authorizations.some((a) => a.token === token && a.status === "active");
    const session = /(?:^|;\s*)influxdb-oss-session=([^;]+)/.exec(headers.cookie ?? "")?.[1];
    return session !== undefined && sessions.has(session);
  };
  const handler: http.RequestListener = (req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", stub.url);
      let body: unknown;
      try {
        body = raw === "" ? undefined : JSON.parse(raw);
      } catch {
        body = raw;
      }
      const request: OpenApiRequest = {
        method: (req.method ?? "GET").toLowerCase(),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers as Record<string, string>,
        body,
      };
      const router = url.pathname.startsWith("/api/v2/") ? api : root;
      const operation = router.matchOperation(request);
      const where = `${req.method} ${url.pathname}${url.search}`;
      const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
        stub.requests.push({ method: req.method ?? "", path: url.pathname, operationId: operation?.operationId, status });
        if (operation && payload !== undefined) {
          const check = router.validateResponse(payload, operation, status);
          if (check.errors?.length) stub.violations.push(`response to ${where} (${status}) breaks the contract: ${JSON.stringify(check.errors)}`);
        }
        res.writeHead(status, payload === undefined ? headers : { ...headers, "content-type": "application/json; charset=utf-8" });
        res.end(payload === undefined ? undefined : JSON.stringify(payload));
      };
      if (!operation) {
        stub.violations.push(`${where}: no such operation in the contract`);
        return reply(404, { code: "not found", message: "path not found" });
      }
      const check = router.validateRequest(request, operation);
      if (!check.valid) {
        stub.violations.push(`${where} (${operation.operationId}) breaks the contract: ${JSON.stringify(check.errors)}`);
        return reply(400, { code: "invalid", message: `request does not match the contract: ${JSON.stringify(check.errors)}` });
      }
      // Before setup only setup and health answer, as in influxd.
      if (!stub.onboarded && !["GetSetup", "PostSetup", "GetHealth", "GetPing", "HeadPing"].includes(operation.operationId ?? "")) {
        return reply(401, { code: "unauthorized", message: "unauthorized access" });
      }
      if (operation.operationId === "PostSetup" || operation.operationId === "GetSetup") {
        const [status, payload] = setup(stub, operation.operationId, request.body as Record<string, any>);
        if (status === 201) options.onChange?.(stubState(stub));
        return reply(status, payload);
      }
      if (operation.operationId === "PostSignin") {
        const admin = stub.authorizations[0]?.user ?? "admin";
        if (req.headers.authorization !== `Basic ${Buffer.from(`${admin}:${stub.adminPassword}`).toString("base64")}`) {
          return reply(401, { code: "unauthorized", message: "Unauthorized" });
        }
        const session = randomBytes(24).toString("base64url");
        sessions.add(session);
        return reply(204, undefined, { "set-cookie": `influxdb-oss-session=${session}; Path=/api/; HttpOnly` });
      }
      if (router === api && !authorised(req.headers)) {
        return reply(401, { code: "unauthorized", message: "unauthorized access" });
      }
      try {
        const [status, payload] = handle(stub, operation.operationId ?? "", request, url.searchParams);
        if (req.method !== "GET" && status < 300) options.onChange?.(stubState(stub));
        reply(status, payload);
      } catch (error) {
        stub.violations.push(`${where} (${operation.operationId}): ${(error as Error).message}`);
        reply(500, { code: "internal error", message: (error as Error).message });
      }
    });
  };
  const server = options.tls ? https.createServer({ cert: options.tls.certificate, key: options.tls.key, minVersion: "TLSv1.2" }, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  stub.url = `${options.tls ? "https" : "http"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${(server.address() as AddressInfo).port}`;
  return stub;
}

/** GET /api/v2/setup (whether setup is allowed) and POST /api/v2/setup (onboarding). */
function setup(stub: InfluxStub, operationId: string, body: Record<string, any>): [number, unknown] {
  if (operationId === "GetSetup") return [200, { allowed: !stub.onboarded }];
  if (stub.onboarded) return [422, { code: "conflict", message: "onboarding has already been completed" }];
  const state = setupState({
    adminToken: body.token ?? randomBytes(48).toString("base64url"),
    adminPassword: body.password ?? "",
    org: body.org,
    bucket: body.bucket,
    retentionSeconds: body.retentionPeriodSeconds ?? 0,
    user: body.username,
  });
  Object.assign(stub, state, { onboarded: true });
  const auth = state.authorizations[0];
  return [201, { user: { id: auth.userID, name: auth.user, status: "active" }, org: { ...state.org, status: "active" }, bucket: state.buckets[0], auth }];
}

/** The operations the hook uses, on the in-memory state. Anything else is a test failure. Links are absolute: the contract types them `format: uri`. */
function handle(stub: InfluxStub, operationId: string, request: OpenApiRequest, query: URLSearchParams): [number, unknown?] {
  const body = request.body as Record<string, any>;
  const idFromPath = () => request.path.split("/")[4];
  const notFound = (what: string): [number, unknown] => [404, { code: "not found", message: `${what} not found` }];
  switch (operationId) {
    case "GetHealth":
      if (stub.unhealthyFor > 0) {
        stub.unhealthyFor--;
        return [503, { name: "influxdb", status: "fail", message: "starting" }];
      }
      return [200, { name: "influxdb", message: "ready for queries and writes", status: "pass", checks: [], version: "v2.7.12", commit: "stub" }];
    case "GetPing":
    case "HeadPing":
      return [204];
    case "GetUsers": {
      const admin = stub.authorizations[0];
      const users = [{ id: admin.userID, name: admin.user, status: "active" }].filter((u) => query.get("name") === null || u.name === query.get("name"));
      return [200, { links: { self: `${stub.url}/api/v2/users` }, users }];
    }
    case "GetOrgs": {
      const name = query.get("org");
      const orgs = name === null || name === stub.org.name ? [{ ...stub.org, status: "active", createdAt: now(), updatedAt: now() }] : [];
      return [200, { links: { self: `${stub.url}/api/v2/orgs` }, orgs }];
    }
    case "GetBuckets": {
      const orgID = query.get("orgID");
      const name = query.get("name");
      const buckets = stub.buckets.filter((b) => (orgID === null || b.orgID === orgID) && (name === null || b.name === name));
      return [200, { links: { self: `${stub.url}/api/v2/buckets` }, buckets }];
    }
    case "PostBuckets": {
      if (stub.buckets.some((b) => b.name === body.name && b.orgID === body.orgID)) return [422, { code: "conflict", message: "bucket with name already exists" }];
      const bucket: Bucket = { id: newId(), orgID: body.orgID, name: body.name, description: body.description, type: "user", retentionRules: body.retentionRules ?? [], createdAt: now(), updatedAt: now() };
      stub.buckets.push(bucket);
      return [201, bucket];
    }
    case "PatchBucketsID": {
      const bucket = stub.buckets.find((b) => b.id === idFromPath());
      if (!bucket) return notFound("bucket");
      if (body.description !== undefined) bucket.description = body.description;
      if (body.retentionRules !== undefined) bucket.retentionRules = body.retentionRules.map((r: any) => ({ type: "expire", everySeconds: r.everySeconds }));
      bucket.updatedAt = now();
      return [200, bucket];
    }
    case "GetTasks": {
      const tasks = stub.tasks.filter((t) => (query.get("orgID") === null || t.orgID === query.get("orgID")) && (query.get("name") === null || t.name === query.get("name")));
      return [200, { links: { self: `${stub.url}/api/v2/tasks` }, tasks }];
    }
    case "PostTasks": {
      const name = /option task = \{[^}]*name: "([^"]+)"/.exec(body.flux)?.[1];
      if (!name) return [400, { code: "invalid", message: "task must have a name in its option task" }];
      const task: Task = { id: newId(), orgID: body.orgID, org: stub.org.name, name, flux: body.flux, description: body.description, status: body.status ?? "active", createdAt: now(), updatedAt: now() };
      stub.tasks.push(task);
      return [201, task];
    }
    case "PatchTasksID": {
      const task = stub.tasks.find((t) => t.id === idFromPath());
      if (!task) return notFound("task");
      Object.assign(task, { flux: body.flux ?? task.flux, description: body.description ?? task.description, status: body.status ?? task.status, updatedAt: now() });
      return [200, task];
    }
    case "GetAuthorizations": {
      const authorizations = stub.authorizations.filter((a) => query.get("orgID") === null || a.orgID === query.get("orgID"));
      return [200, { links: { self: `${stub.url}/api/v2/authorizations` }, authorizations }];
    }
    case "PostAuthorizations": {
      const admin = stub.authorizations[0];
      const authorization: Authorization = {
        id: newId(),
        orgID: body.orgID,
        org: stub.org.name,
        userID: admin.userID,
        user: admin.user,
        token: randomBytes(48).toString("base64url"),
        status: body.status ?? "active",
        description: body.description,
        permissions: body.permissions,
        createdAt: now(),
        updatedAt: now(),
      };
      stub.authorizations.push(authorization);
      return [201, authorization];
    }
    case "DeleteAuthorizationsID": {
      const index = stub.authorizations.findIndex((a) => a.id === idFromPath());
      if (index === -1) return notFound("authorization");
      stub.authorizations.splice(index, 1);
      return [204];
    }
    default:
      throw new Error(`the stub does not implement ${operationId}; add it if the hook needs it`);
  }
}
