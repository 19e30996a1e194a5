// The MongoDB init hook, run from `pulumi up` once every member is healthy. Runs inside the
// serialised dynamic provider (see init/hook.ts): npm packages are required inside functions.
//
//   1. unless a member already belongs to the set: wait until every member answers and initiate
//      the set with member 1 alone, logged in as __system with the members' key (no member has a
//      user yet): a set of one elects itself at once, with no election timeout to wait out;
//      "already initialized" is fine;
//   2. on the primary, log in as root: a rotated password is set by root itself, logged in with
//      the previous one; only a set none of this stack's passwords opens (just formed, or data kept
//      from a destroyed stack) takes __system to create root or set its password. Then bring the
//      set's config to the wanted members and election timeout (the others added one voting member
//      per reconfig, as MongoDB requires), create or correct the users, apply the versioned
//      migrations and seeds, as root. All writes use writeConcern majority.
// So __system, the members' own identity, signs in only for what no user can do; every other run
// works as root, and `systemLogins` in the outputs says when and why it did.
// Every step is idempotent. If the primary steps down in the middle, the run waits for the new
// primary and goes through step 2 again, so it converges instead of leaving half a setup.
import type { Db, Document, MongoClient } from "mongodb";
import { openMajority, type OpenedAccess, type ServerAccess } from "../access";
import { planVersionedFiles, type RecordedFile, type VersionedFile } from "../versioned-files";

export interface MongoMember {
  _id: number;
  /** host:port as the members reach each other (Docker DNS names). */
  host: string;
  priority: number;
}

/** A member as this process reaches it: host:port to connect to, what messages call it, and with `tls` the CA its certificate must chain to. */
type MongoEndpoint = Pick<OpenedAccess, "host" | "port" | "label"> & { tlsCa?: string };
/** A member this run could not reach at all (its pod gone or not scheduled): `undefined` in its place. */
type MemberEndpoint = MongoEndpoint | undefined;

export interface MongoUserSpec {
  name: string;
  password: string;
  roles: Array<{ role: string; db: string }>;
}

export interface MongoInitInputs extends Record<string, unknown> {
  /** sha256 of the hook's serialised code (init/hook-resource.ts): a code change re-runs the hook. */
  hookVersion: string;
  replicaSetName: string;
  members: MongoMember[];
  /**
   * How this process reaches each member, in the order of `members`: the 127.0.0.1 host ports under
   * Docker; under Kubernetes each with its pod (`kubernetes`), reached through a port-forward (init/access.ts).
   */
  clientEndpoints: ServerAccess[];
  electionTimeoutMs: number;
  rootUser: string;
  rootPassword: string;
  /**
   * The members' shared key. It logs in as MongoDB's internal __system user: to initiate the set
   * (no member has a user before), and to create root or set its declared password.
   */
  keyfile: string;
  /** With `tls`: the stack's CA certificate (PEM); every connection is TLS, verifying the member against it. */
  tlsCa?: string;
  database: string;
  /** Users in the admin database besides root. */
  users: MongoUserSpec[];
  /** Users of earlier declarations to drop when present (the admin tools' when they are turned off). */
  retiredUsers?: string[];
  migrations: VersionedFile[];
  seeds: VersionedFile[];
  /** Upper bound for the whole run: members answering, the first primary, following a step-down. */
  timeoutSeconds: number;
  filesChecksum: string;
  /** Container ids: a replaced member re-runs the hook. */
  memberIds: string[];
}

export interface MongoInitResult extends Record<string, unknown> {
  /** Whether this run initiated the replica set. */
  initiated: boolean;
  /** Reconfigurations this run made. */
  reconfigurations: number;
  /** "mongodb:27017 PRIMARY", per member, at the end of the run. */
  memberStates: string[];
  /** Every migration version recorded (not `migrations`: that input holds the files). */
  recordedMigrations: string[];
  /** What this run applied: "migration 0001_collections", "seed 0001_defaults". */
  appliedThisRun: string[];
  /** Users created or corrected by this run. */
  usersChanged: string[];
  /** Times the run lost its primary (step-down, restart) and went on with the new one. */
  primaryChanges: number;
  /** Whether this run set root's password (or created root). */
  rootReset: boolean;
  /** Why this run signed in as __system, if it did: forming the set, making root, taking over kept data. */
  systemLogins: string[];
  /** Members this run could not reach (a pod gone or Pending), and why: a formed set goes on with a majority. */
  unreachable: string[];
}

export async function applyMongoInit(inputs: MongoInitInputs, previous?: MongoInitInputs): Promise<MongoInitResult> {
  // Each member on its own: one whose pod is gone or not scheduled yet (a port-forward refused at
  // once) is left out and reported; the set, once formed, needs only its primary and a majority.
  const { members, failures } = await openMajority(inputs.clientEndpoints, `MongoDB replica set ${inputs.replicaSetName}`);
  try {
    const endpoints = members.map((m) => m && { host: m.host, port: m.port, label: m.label, ...(inputs.tlsCa ? { tlsCa: inputs.tlsCa } : {}) });
    return { ...(await initialise(inputs, endpoints, previous?.rootPassword)), unreachable: failures };
  } finally {
    await Promise.all(members.map((m) => m?.close()));
  }
}

/** The run, with `endpoints` the members as this process reaches them, in the order of `members`. */
async function initialise(inputs: MongoInitInputs, endpoints: MemberEndpoint[], previousRootPassword: string | undefined): Promise<MongoInitResult> {
  const deadline = Date.now() + inputs.timeoutSeconds * 1000;
  const result: MongoInitResult = {
    initiated: false,
    reconfigurations: 0,
    memberStates: [],
    recordedMigrations: [],
    appliedThisRun: [],
    usersChanged: [],
    primaryChanges: 0,
    rootReset: false,
    systemLogins: [],
    unreachable: [],
  };

  result.initiated = await initiateOnce(inputs, endpoints, deadline);
  if (result.initiated) result.systemLogins.push("to initiate the replica set (no user exists before)");

  for (;;) {
    const primary = await waitFor(deadline, inputs, "a writable primary", () => findPrimary(inputs, endpoints));
    let client: MongoClient | undefined;
    try {
      // Inside the retry: a set found on kept volumes may still be electing, and closes connections.
      const reset = await ensureRootLogin(primary, inputs, previousRootPassword, deadline);
      if (reset) result.rootReset = true;
      if (reset === "through __system") result.systemLogins.push(result.initiated ? "to create root on the new set" : "to create root or set its password: no password this run knows opens it (data kept from another stack, or root not made by an earlier run)");
      client = await connect(primary, { user: inputs.rootUser, password: inputs.rootPassword }, deadline);
      result.reconfigurations += await reconcileConfig(client, inputs, deadline);
      result.usersChanged = await ensureUsers(client, primary, inputs);
      await applyFiles(client.db(inputs.database), inputs, result);
      const status = await client.db("admin").command({ replSetGetStatus: 1 });
      result.memberStates = (status.members as Document[]).map((m) => `${m.name} ${m.stateStr}`);
      return result;
    } catch (error) {
      if (!isPrimaryChange(error) || Date.now() > deadline) throw error;
      result.primaryChanges++;
    } finally {
      await client?.close().catch(() => undefined);
    }
  }
}

/**
 * Initiates the set with member 1 alone unless a member already holds a config; returns whether
 * this call did. The others join by reconfig (reconcileConfig), one at a time, each syncing from the primary.
 */
async function initiateOnce(inputs: MongoInitInputs, endpoints: MemberEndpoint[], deadline: number): Promise<boolean> {
  // A member that holds a config: the set exists, and needs only its primary (a re-run goes on
  // while some other member is down). Initiating member 1 alone beside it would make a second set.
  const holdsConfig = (reply: Document | undefined) => reply?.setName !== undefined;
  for (const endpoint of endpoints) if (endpoint && holdsConfig(await hello(endpoint).catch(() => undefined))) return false;
  const missing = endpoints.map((e, i) => (e ? undefined : inputs.members[i].host)).filter((h) => h !== undefined);
  // Adding a member needs a majority of the new config up: forming the set waits for every member.
  if (missing.length > 0) throw new Error(`MongoDB replica set ${inputs.replicaSetName} is not formed yet, and forming it needs every member; not reachable: ${missing.join(", ")}`);
  const members = endpoints as MongoEndpoint[];
  for (const endpoint of members) {
    // Asked again once it answers: a member whose hello failed above may hold a config.
    const reply = await waitFor(deadline, inputs, `${endpoint.label} to answer`, async () => (await hello(endpoint)) ?? undefined);
    if (holdsConfig(reply)) return false;
  }
  const client = await connectAsSystem(members[0], inputs.keyfile, deadline);
  try {
    const admin = client.db("admin");
    return await waitFor(deadline, inputs, "the replica set to be initiated", async () => {
      try {
        await admin.command({ replSetGetStatus: 1 });
        return false;
      } catch (error) {
        if (codeOf(error) !== 94 /* NotYetInitialized */) throw error;
      }
      try {
        await admin.command({
          replSetInitiate: { _id: inputs.replicaSetName, members: [inputs.members[0]], settings: { electionTimeoutMillis: inputs.electionTimeoutMs } },
        });
        return true;
      } catch (error) {
        if (codeOf(error) === 23 /* AlreadyInitialized */) return false;
        throw error;
      }
    });
  } finally {
    await client.close().catch(() => undefined);
  }
}

/**
 * The declared root password wins. No member is given it. A rotated one is set by root itself,
 * logged in with the previous password; only when no password of this stack opens the set (root
 * not made yet, or data kept from an earlier stack) does __system, with the members' key, create
 * root or set its password. All on the primary. Returns how it changed anything, or false.
 */
async function ensureRootLogin(primary: MongoEndpoint, inputs: MongoInitInputs, previousPassword: string | undefined, deadline: number): Promise<false | "as root" | "through __system"> {
  const root = { name: inputs.rootUser, password: inputs.rootPassword, roles: [{ role: "root", db: "admin" }] };
  if (await canLogIn(primary, root)) return false;
  const writeConcern = { w: "majority", wtimeout: Math.max(1000, deadline - Date.now()) };
  if (previousPassword !== undefined && previousPassword !== root.password && (await canLogIn(primary, { ...root, password: previousPassword }))) {
    const client = await connect(primary, { user: root.name, password: previousPassword }, deadline);
    try {
      await client.db("admin").command({ updateUser: root.name, pwd: root.password, writeConcern });
      return "as root";
    } finally {
      await client.close().catch(() => undefined);
    }
  }
  const system = await connectAsSystem(primary, inputs.keyfile, deadline);
  try {
    const admin = system.db("admin");
    const info = await admin.command({ usersInfo: { user: root.name, db: "admin" } });
    if ((info.users as Document[]).length === 0) await admin.command({ createUser: root.name, pwd: root.password, roles: root.roles, writeConcern });
    else await admin.command({ updateUser: root.name, pwd: root.password, writeConcern });
    return "through __system";
  } finally {
    await system.close().catch(() => undefined);
  }
}

/** A client logged in as MongoDB's internal __system user with the members' key (mongod takes it with its whitespace removed). */
async function connectAsSystem(endpoint: MongoEndpoint, keyfile: string, deadline: number): Promise<MongoClient> {
  try {
    return await connect(endpoint, { user: "__system", password: keyfile.replace(/\s+/g, ""), authSource: "local" }, deadline);
  } catch (error) {
    if (codeOf((error as Error).cause) === 18) throw new Error(`MongoDB ${endpoint.label}: __system cannot log in with the stack's key; the members run with another keyfile than the one in the stack's state`, { cause: error });
    throw error;
  }
}

/** Steps the set's config towards the wanted one until they match; returns how many reconfigs it made. */
async function reconcileConfig(client: MongoClient, inputs: MongoInitInputs, deadline: number): Promise<number> {
  const admin = client.db("admin");
  let count = 0;
  for (;;) {
    const { config } = await admin.command({ replSetGetConfig: 1 });
    const next = nextReplicaSetConfig(config, inputs.members, inputs.electionTimeoutMs);
    if (!next) return count;
    try {
      await admin.command({ replSetReconfig: next, maxTimeMS: Math.max(1000, deadline - Date.now()) });
      count++;
    } catch (error) {
      // The previous config is not committed yet (MongoDB 4.4+); wait for it.
      if (![109 /* ConfigurationInProgress */, 308 /* CurrentConfigNotCommittedYet */].includes(codeOf(error) ?? 0) || Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

/**
 * The next config on the way from `current` to the wanted members: add one missing member, else
 * remove one extra member, else fix priorities and the election timeout. Undefined when it matches.
 */
export function nextReplicaSetConfig(current: Document, wanted: MongoMember[], electionTimeoutMs: number): Document | undefined {
  // Copies of what changes; the rest (settings.replicaSetId is an ObjectId) is passed back as it came.
  const next: Document = { ...current, version: (current.version as number) + 1, members: (current.members as Document[]).map((m) => ({ ...m })), settings: { ...current.settings } };
  delete next.term;
  const members = next.members as Document[];
  const hosts = new Set(members.map((m) => m.host));
  const missing = wanted.find((w) => !hosts.has(w.host));
  if (missing) {
    const ids = new Set(members.map((m) => m._id));
    const id = ids.has(missing._id) ? Math.max(...ids) + 1 : missing._id;
    members.push({ _id: id, host: missing.host, priority: missing.priority });
    return next;
  }
  const extra = members.findIndex((m) => !wanted.some((w) => w.host === m.host));
  if (extra !== -1) {
    members.splice(extra, 1);
    return next;
  }
  let changed = false;
  for (const member of members) {
    const priority = wanted.find((w) => w.host === member.host)!.priority;
    if (member.priority !== priority) {
      member.priority = priority;
      changed = true;
    }
  }
  if (next.settings.electionTimeoutMillis !== electionTimeoutMs) {
    next.settings.electionTimeoutMillis = electionTimeoutMs;
    changed = true;
  }
  return changed ? next : undefined;
}

/** Creates missing users; corrects roles and passwords that differ. Returns what it changed. */
async function ensureUsers(client: MongoClient, primary: MongoEndpoint, inputs: MongoInitInputs): Promise<string[]> {
  const admin = client.db("admin");
  const writeConcern = { w: "majority" };
  const changed: string[] = [];
  for (const user of inputs.users) {
    const info = await admin.command({ usersInfo: { user: user.name, db: "admin" } });
    const existing = (info.users as Document[])[0];
    if (!existing) {
      await admin.command({ createUser: user.name, pwd: user.password, roles: user.roles, writeConcern });
      changed.push(`created ${user.name}`);
      continue;
    }
    const key = (roles: Document[]) => roles.map((r) => `${r.db}.${r.role}`).sort().join(",");
    if (key(existing.roles) !== key(user.roles)) {
      await admin.command({ updateUser: user.name, roles: user.roles, writeConcern });
      changed.push(`roles of ${user.name}`);
    }
    if (!(await canLogIn(primary, user))) {
      await admin.command({ updateUser: user.name, pwd: user.password, writeConcern });
      changed.push(`password of ${user.name}`);
    }
  }
  for (const name of inputs.retiredUsers ?? []) {
    if ((((await admin.command({ usersInfo: { user: name, db: "admin" } })).users as Document[]) ?? []).length === 0) continue;
    await admin.command({ dropUser: name, writeConcern });
    changed.push(`dropped ${name}`);
  }
  return changed;
}

async function canLogIn(endpoint: MongoEndpoint, user: MongoUserSpec): Promise<boolean> {
  const { MongoClient } = require("mongodb") as typeof import("mongodb");
  const client = new MongoClient(uri(endpoint, { user: user.name, password: user.password }), clientOptions(endpoint));
  try {
    await client.db("admin").command({ ping: 1 });
    return true;
  } catch (error) {
    if (codeOf(error) === 18 /* AuthenticationFailed */) return false;
    throw error;
  } finally {
    await client.close().catch(() => undefined);
  }
}

interface MigrationStep {
  collection?: string;
  validator?: Document;
  validationLevel?: string;
  validationAction?: string;
  index?: string;
  name?: string;
  key?: Document;
  unique?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Document;
  dropIndex?: string;
}

interface SeedUpsert {
  collection: string;
  naturalKey: string[];
  documents: Document[];
}

async function applyFiles(db: Db, inputs: MongoInitInputs, result: MongoInitResult): Promise<void> {
  const { BSON } = require("mongodb") as typeof import("mongodb");
  const records = db.collection("schema_migrations");
  const recorded = await records.find({}, { projection: { _id: 0, kind: 1, version: 1, checksum: 1, applied_at: 1 } }).toArray();
  const plan = planVersionedFiles(inputs.database, inputs, recorded as unknown as RecordedFile[]);
  const writeConcern = { w: "majority" as const };

  for (const migration of plan.migrations) {
    const { steps } = BSON.EJSON.parse(migration.text, { relaxed: false }) as { steps: MigrationStep[] };
    for (const [i, step] of steps.entries()) {
      try {
        await applyStep(db, step);
      } catch (error) {
        throw withContext(error, `${migration.file}: step ${i + 1}`);
      }
    }
    // Recorded after its steps: a run that dies half-way re-applies the (idempotent) steps.
    await records.updateOne(
      { _id: `migration:${migration.version}` as never },
      { $setOnInsert: { kind: "migration", version: migration.version, name: migration.name, file: migration.file, checksum: migration.checksum, applied_at: new Date() } },
      { upsert: true, writeConcern },
    );
    result.appliedThisRun.push(`migration ${migration.version}_${migration.name}`);
  }

  for (const seed of plan.seeds) {
    const { upserts } = BSON.EJSON.parse(seed.text, { relaxed: false }) as { upserts: SeedUpsert[] };
    for (const entry of upserts) {
      const operations = entry.documents.map((document) => ({
        updateOne: {
          filter: Object.fromEntries(entry.naturalKey.map((k) => [k, document[k]])),
          // Only on insert: a document users edited keeps their edits.
          update: { $setOnInsert: document },
          upsert: true,
        },
      }));
      try {
        await db.collection(entry.collection).bulkWrite(operations, { ordered: true, writeConcern });
      } catch (error) {
        throw withContext(error, `${seed.file}: collection ${entry.collection}`);
      }
    }
    await records.updateOne(
      { _id: `seed:${seed.version}` as never },
      { $set: { kind: "seed", version: seed.version, name: seed.name, file: seed.file, checksum: seed.checksum, applied_at: new Date() } },
      { upsert: true, writeConcern },
    );
    result.appliedThisRun.push(`seed ${seed.version}_${seed.name}`);
  }

  const migrations = await records.find({ kind: "migration" }, { projection: { _id: 0, version: 1 }, sort: { version: 1 } }).toArray();
  result.recordedMigrations = migrations.map((m) => m.version as string);
}

async function applyStep(db: Db, step: MigrationStep): Promise<void> {
  const writeConcern = { w: "majority" };
  if (step.collection !== undefined) {
    const options = { validator: step.validator, validationLevel: step.validationLevel ?? "strict", validationAction: step.validationAction ?? "error" };
    const exists = (await db.listCollections({ name: step.collection }, { nameOnly: true }).toArray()).length > 0;
    if (!exists) {
      try {
        await db.command({ create: step.collection, ...options, writeConcern });
        return;
      } catch (error) {
        if (codeOf(error) !== 48 /* NamespaceExists: created meanwhile */) throw error;
      }
    }
    await db.command({ collMod: step.collection, ...options, writeConcern });
  } else if (step.index !== undefined) {
    const spec: Document = { name: step.name, key: step.key };
    if (step.unique !== undefined) spec.unique = step.unique;
    if (step.expireAfterSeconds !== undefined) spec.expireAfterSeconds = step.expireAfterSeconds;
    if (step.partialFilterExpression !== undefined) spec.partialFilterExpression = step.partialFilterExpression;
    await db.command({ createIndexes: step.index, indexes: [spec], writeConcern });
  } else if (step.dropIndex !== undefined) {
    try {
      await db.command({ dropIndexes: step.dropIndex, index: step.name, writeConcern });
    } catch (error) {
      // Already gone (IndexNotFound, NamespaceNotFound): what the step wants.
      if (![27, 26].includes(codeOf(error) ?? 0)) throw error;
    }
  }
}

// ---- connections -------------------------------------------------------------------------

interface Login {
  user: string;
  password: string;
  /** Where the user is defined: admin, or local for __system. */
  authSource?: string;
}

function uri(endpoint: MongoEndpoint, auth?: Login): string {
  const credentials = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@` : "";
  return `mongodb://${credentials}${endpoint.host}:${endpoint.port}/?directConnection=true&authSource=${auth?.authSource ?? "admin"}`;
}

/** Over TLS the driver verifies the member's certificate against the CA, and its name (127.0.0.1 or localhost: in every member's certificate). */
function clientOptions(endpoint: MongoEndpoint) {
  const tls = endpoint.tlsCa ? { tls: true, ca: endpoint.tlsCa } : {};
  return { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000, appName: "trading-db-stack init", writeConcern: { w: "majority" as const }, ...tls };
}

/** A client talking to exactly this member, connected, retrying while it does not answer. */
async function connect(endpoint: MongoEndpoint, auth: Login, deadline: number): Promise<MongoClient> {
  const { MongoClient } = require("mongodb") as typeof import("mongodb");
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    const client = new MongoClient(uri(endpoint, auth), clientOptions(endpoint));
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.close().catch(() => undefined);
      lastError = error;
      if (codeOf(error) === 18) throw new Error(`MongoDB ${endpoint.label}: ${auth.user} cannot log in (authentication failed)`, { cause: error });
      if (Date.now() > deadline) throw new Error(`MongoDB ${endpoint.label}: cannot connect after ${attempt} attempt(s): ${(lastError as Error).message}`);
      await sleep(Math.min(100 * attempt, 1000));
    }
  }
}

/** The member's hello (isMaster on servers before 4.4.2); needs no login. */
async function hello(endpoint: MongoEndpoint): Promise<Document> {
  const { MongoClient } = require("mongodb") as typeof import("mongodb");
  const client = new MongoClient(uri(endpoint), clientOptions(endpoint));
  try {
    return await client.db("admin").command({ isMaster: 1 });
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function findPrimary(inputs: MongoInitInputs, endpoints: MemberEndpoint[]): Promise<MongoEndpoint | undefined> {
  for (const endpoint of endpoints) {
    if (!endpoint) continue;
    const reply = await hello(endpoint).catch(() => undefined);
    if (reply?.ismaster === true && reply.setName === inputs.replicaSetName) return endpoint;
  }
  return undefined;
}

/** Calls `attempt` until it returns a value other than undefined; errors that a wait may cure are retried. */
async function waitFor<T>(deadline: number, inputs: MongoInitInputs, what: string, attempt: () => Promise<T | undefined>): Promise<T> {
  let lastError: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      if (!isPrimaryChange(error)) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError ? `; last error: ${(lastError as Error).message}` : "";
      throw new Error(`MongoDB replica set ${inputs.replicaSetName}: gave up waiting for ${what} after ${inputs.timeoutSeconds}s${why}`);
    }
    await sleep(200);
  }
}

/** Errors that mean "this member is not (or no longer) the primary, or not reachable right now". */
export function isPrimaryChange(error: unknown): boolean {
  const codes = [
    91 /* ShutdownInProgress */, 189 /* PrimarySteppedDown */, 10107 /* NotWritablePrimary */, 11600 /* InterruptedAtShutdown */,
    11602 /* InterruptedDueToReplStateChange */, 13435 /* NotPrimaryNoSecondaryOk */, 13436 /* NotPrimaryOrSecondary */,
  ];
  const names = ["MongoNetworkError", "MongoNetworkTimeoutError", "MongoServerSelectionError", "MongoNotConnectedError", "MongoTopologyClosedError", "MongoPoolClearedError"];
  for (let e = error as { code?: number; name?: string; cause?: unknown; writeConcernError?: { code?: number } } | undefined; e; e = e.cause as typeof e) {
    if (typeof e !== "object") return false;
    if (codes.includes(e.code ?? 0) || codes.includes(e.writeConcernError?.code ?? 0)) return true;
    if (names.includes(e.name ?? "")) return true;
  }
  return false;
}

function codeOf(error: unknown): number | undefined {
  return (error as { code?: number } | undefined)?.code;
}

/** The error with `where` in front of its message; code and cause kept for isPrimaryChange. */
function withContext(error: unknown, where: string): Error {
  const wrapped = new Error(`${where}: ${(error as Error).message}`, { cause: error });
  return Object.assign(wrapped, { code: codeOf(error) });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
