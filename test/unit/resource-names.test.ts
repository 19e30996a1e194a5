// Resource names derive from their component's (`${name}-…`), so two stacks of components live in
// one program; a stack made by the release before that rename keeps every resource through aliases.
// The released stacks are in fixtures/released-resources.json (URN and input digest of every
// resource); test/support/aliases.ts applies the aliases as the engine does.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, test } from "vitest";
import { applyAliases, type AliasOutcome } from "../support/aliases";
import { mockRealise, plain, requireBuilt, runProgram, stackConfig, PROJECT, ROOT, type MockedResource, type ProgramRun } from "../support/pulumi";

const PASSWORD = "random:index/randomPassword:RandomPassword";
const CONTAINER = "docker:index/container:Container";
const STATEFUL_SET = "kubernetes:apps/v1:StatefulSet";

interface ReleasedScenario {
  stack: string;
  overrides: Record<string, string>;
  /** URN -> digest of the inputs. */
  resources: Record<string, string>;
}
const released: { scenarios: ReleasedScenario[] } = JSON.parse(fs.readFileSync(path.join(ROOT, "test/unit/fixtures/released-resources.json"), "utf8"));

/** The server images e373ca5 pinned by default. */
const PINNED_BY_THE_RELEASE = { postgresImage: "postgres:18.1", mongoImage: "mongo:8.0.4", redisImage: "redis:7.4.2", influxdbImage: "influxdb:2.7.11", pgadminImage: "dpage/pgadmin4:9.10" };

/** What PostgreSQL on Kubernetes is made of since it is a CloudNativePG Cluster: new to a stack made before. */
const CLOUDNATIVE_PG = /^trading-(postgres-(cluster|instances|trading-[a-z-]+-(secret|database))|secrets-postgres-trading-monitor-password|kubernetes-(adopting-provider|cloudnative-pg-check))$/;
const onKubernetes = (scenario: ReleasedScenario) => (scenario.overrides.platform ?? (scenario.stack === "prod" ? "kubernetes" : "docker")) === "kubernetes";

const urnName = (urn: string) => urn.split("::").pop() ?? "";

/** As the fixture was made: less ignoreChanges and a hook's code (a release that changes a hook's code re-runs it, rename or not). */
function inputsDigest(r: MockedResource): string {
  const inputs = plain(r.inputs);
  for (const key of r.options.ignoreChanges) delete inputs[key];
  delete inputs.hookVersion;
  delete inputs.__provider;
  return crypto.createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 16);
}

/** Logins new since that release: the admin tools' own, and PostgreSQL's service roles. */
const NEW_LOGIN_PASSWORDS = /^trading-secrets-((postgres-trading|mongo)-admin-tools|postgres-trading-(platform|results)-app)-password$/;

/** Kubernetes objects new since: the consumers' namespaces (their env Secrets moved there), the admin tools' NetworkPolicies. */
const NEW_KUBERNETES_OBJECTS = /^trading-(kubernetes-consumer-namespace-trading-(platform|simulation)|admin-tools-(pgadmin|mongo-express)-network)$/;

/** MongoDB's ClusterIP Service as that release named its resource. */
const MONGO_CLIENT_SERVICE = /^trading-mongodb-service$/;

describe.each(released.scenarios)("a $stack stack $overrides made by the release before the rename", (scenario) => {
  let run: ProgramRun;
  let outcome: AliasOutcome;
  const oldUrns = Object.keys(scenario.resources);

  // The stack's config as it was then: no tls (off). Turning tls on is a change of its own (stack-tls.test.ts).
  const overrides = { tls: "false", ...scenario.overrides };
  beforeAll(async () => {
    run = await runProgram(scenario.stack, overrides);
    outcome = applyAliases(oldUrns, run.resources);
  });

  test("`up` after the upgrade creates and deletes nothing: every resource takes over its old state", () => {
    expect(outcome.errors).toEqual([]);
    if (onKubernetes(scenario)) {
      // A later release made PostgreSQL on Kubernetes one CloudNativePG Cluster: the stack's own
      // StatefulSets, Services, policies, slots and checks go, the Cluster and its objects come
      // (README: moving the data over); nothing else is created or deleted.
      // (And the admin tools' own logins and the service roles came later.)
      expect(outcome.created.map(urnName).filter((n) => !CLOUDNATIVE_PG.test(n) && !NEW_LOGIN_PASSWORDS.test(n) && !NEW_KUBERNETES_OBJECTS.test(n))).toEqual([]);
      expect(outcome.deleted.map(urnName).filter((n) => !/^(trading-)?postgres(-|$)/.test(n) && !MONGO_CLIENT_SERVICE.test(n))).toEqual([]);
      expect(outcome.created.map(urnName)).toContain("trading-postgres-cluster");
      // And it dropped MongoDB's client Service, which round-robined over primary and secondaries.
      expect(outcome.deleted.map(urnName).filter((n) => MONGO_CLIENT_SERVICE.test(n))).toHaveLength(1);
    } else {
      // Later releases added the guard of PostgreSQL's major (Docker), the admin tools' own logins and the service roles.
      expect(outcome.created.map(urnName).filter((n) => !NEW_LOGIN_PASSWORDS.test(n))).toEqual(["trading-postgres-data-major"]);
      expect(outcome.deleted).toEqual([]);
    }
    // The rename did happen: each component of the stack (secrets, postgres, …) had its bare name then.
    const parts = run.resources.filter((r) => r.options.parent === "trading" && r.type.startsWith("trading:"));
    expect(parts.length).toBeGreaterThan(0);
    expect(parts.filter((r) => !outcome.renamed.has(r.options.urn)).map((r) => r.name)).toEqual([]);
  });

  test("and finds every input as it was: the rename updates or replaces nothing, and re-runs no hook", async () => {
    // Realised as the engine would: with the id and outputs (a password's value) kept in the old
    // state, and with the images that release pinned (later releases raised the pins, which
    // replaces the servers by itself, rename or not).
    const formerName = new Map([...outcome.renamed].map(([now, before]) => [urnName(now), urnName(before)]));
    const again = await runProgram(scenario.stack, { ...overrides, ...PINNED_BY_THE_RELEASE }, (r) => mockRealise({ ...r, name: formerName.get(r.name) ?? r.name }));
    const differing = again.resources
      // (Resources new since that release have no old inputs to compare.)
      .filter((r) => !CLOUDNATIVE_PG.test(r.name) && r.name !== "trading-postgres-data-major" && !NEW_LOGIN_PASSWORDS.test(r.name) && !NEW_KUBERNETES_OBJECTS.test(r.name))
      .filter((r) => scenario.resources[outcome.renamed.get(r.options.urn) ?? r.options.urn] !== inputsDigest(r))
      .map((r) => r.name);
    // What later releases changed on purpose: mongod's arguments (--networkMessageCompressors
    // without zlib) replace the MongoDB members once on Docker, and the primary's wrapper (which
    // now refuses another major's data) the PostgreSQL primary; on Kubernetes every pod template
    // changed too (liveness asks the server itself), so every workload rolls once.
    // And on Kubernetes PostgreSQL became CloudNativePG's: its hook works as the owners, and the
    // consumers' env and pgAdmin name the operator's -rw/-ro Services (and its monitoring role).
    // The MongoDB members no longer carry root's password (the hook makes root): on Kubernetes
    // their wrapper and Secret change, and with the pods' revision the hook runs again.
    const cloudNativePg = /^trading-(postgres-init|[a-z-]+-env|admin-tools-pgadmin-(files|secrets)|mongo-init|mongo-members-(files|secrets))$/;
    // On Docker pg_hba.conf is written at start (the superuser only from the host), the replicas
    // stream from the primary's internal name; pgAdmin and mongo-express log in with users of their
    // own, which the hooks make; Redis's trading_app lost SCAN, SELECT and the like (its ACL file).
    // The containers run as their images' users from the start: InfluxDB's wrapper lost its chown
    // (on Kubernetes its hook runs again after the restart), and pgAdmin listens on 8080 (its
    // Services follow); the namespace the stack creates gains its Pod Security labels (in place).
    // InfluxDB is onboarded by its hook (a new input), and the operator token leaves its Secret.
    // Every NetworkPolicy now isolates egress too and admits each consumer from its own namespace
    // (the default deny under a new object name: replaced).
    const leastPrivilege = onKubernetes(scenario)
      ? /^trading-(admin-tools-mongo-express-secrets|redis-init|redis-server-secrets|influxdb-init|influxdb-server-(files|secrets)|admin-tools-pgadmin-(headless|service)|kubernetes-namespace|kubernetes-default-deny|(redis-server|influxdb-server|mongo-members)-clients)$/
      : /^trading-(postgres-replica-\d+|postgres-init|admin-tools-pgadmin|admin-tools-mongo-express|mongo-init|redis-server|influxdb-init)$/;
    // And every Docker container runs as its image's user, capabilities dropped, no-new-privileges.
    const changedOnPurpose = again.resources
      .filter((r) => r.type === CONTAINER || r.type === "kubernetes:apps/v1:StatefulSet" || r.type === "kubernetes:apps/v1:Deployment" || leastPrivilege.test(r.name) || (onKubernetes(scenario) && cloudNativePg.test(r.name)))
      .map((r) => r.name);
    expect(changedOnPurpose.length).toBeGreaterThan(0);
    expect(differing.sort()).toEqual(changedOnPurpose.sort());
  });

  test("without the aliases, the same `up` would generate every password again and replace servers", () => {
    const unaliased = run.resources.map((r) => ({ ...r, options: { ...r.options, aliases: [] } }));
    const naive = applyAliases(oldUrns, unaliased);
    const created = (type: string) => naive.created.filter((urn) => urn.includes(`$${type}::`)).length;
    // (The monitoring role's password is new on Kubernetes either way.)
    expect(created(PASSWORD)).toBe(run.ofType(PASSWORD).length);
    expect(created(CONTAINER)).toBe(run.ofType(CONTAINER).length);
    expect(created(CONTAINER) + created(STATEFUL_SET)).toBeGreaterThan(0);
    // Less what the aliased `up` creates and deletes too (PostgreSQL on Kubernetes, see above): every other resource is renamed, one out for one in.
    const real = new Set([...outcome.created, ...outcome.deleted]);
    expect(naive.deleted.filter((u) => !real.has(u)).length).toBe(naive.created.filter((u) => !real.has(u)).length);
  });
});

describe("names derive from the component's", () => {
  test.each(["dev", "prod"])("%s: every resource's name starts with its parent's", async (stack) => {
    const run = await runProgram(stack);
    const misnamed = run.resources.filter((r) => r.options.parent && !r.name.startsWith(`${r.options.parent}-`)).map((r) => `${r.options.parent} > ${r.name}`);
    expect(misnamed).toEqual([]);
  });

  test("two stacks in one program, in two namespaces with the same name prefix, share no resource URN", async () => {
    const config = stackConfig("prod");
    const program = () => {
      const { loadStackPlan, TradingDbStack } = requireBuilt("components/stack.js");
      for (const name of ["blue", "green"]) {
        const lookup = (key: string) => (key === "kubernetesNamespace" ? `trading-${name}` : config[`${PROJECT}:${key}`]);
        new TradingDbStack(name, { plan: loadStackPlan(lookup) });
      }
      return {};
    };
    const single = await runProgram("prod");
    const both = await runProgram("prod", {}, mockRealise, program);
    const urns = both.resources.map((r) => r.options.urn);
    expect(urns.length).toBe(2 * single.resources.length);
    expect(new Set(urns).size).toBe(urns.length);
    expect(both.resources.filter((r) => r.name === "green" || r.name.startsWith("green-"))).toHaveLength(single.resources.length);
  });
});
