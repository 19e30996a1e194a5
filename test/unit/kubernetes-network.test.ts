// The prod stack's NetworkPolicies, evaluated as a cluster's network plugin would
// (test/support/network-policy.ts) over the pods the stack declares (their template labels), the
// pods CloudNativePG makes, consumers in their namespaces and strangers: who reaches what, on which
// port. And the consumers' env Secrets in the consumers' namespaces.
import { beforeAll, describe, expect, test } from "vitest";
import { allowed, type Endpoint, type Pod, type Policy } from "../support/network-policy";
import { plain, runProgram, type MockedResource, type ProgramRun } from "../support/pulumi";

const value = (r: MockedResource) => plain(r.inputs);
const ofKind = (run: ProgramRun, kind: string) => run.resources.filter((r) => r.type.startsWith("kubernetes:") && r.type.endsWith(`:${kind}`)).map(value);
const policies = (run: ProgramRun): Policy[] => ofKind(run, "NetworkPolicy");

/** A pod of the stack's workload `name` (a StatefulSet or Deployment), with its template's labels. */
function workloadPod(run: ProgramRun, name: string): Pod {
  const workload = [...ofKind(run, "StatefulSet"), ...ofKind(run, "Deployment")].find((w) => w.metadata.name === name);
  if (!workload) throw new Error(`no workload ${name}`);
  return { namespace: workload.metadata.namespace, labels: workload.spec.template.metadata.labels };
}

/** An instance pod as CloudNativePG labels it: the cluster's, its role, and the Cluster's inherited labels. */
function instancePod(run: ProgramRun, role: "primary" | "replica"): Pod {
  const cluster = ofKind(run, "Cluster")[0];
  return {
    namespace: cluster.metadata.namespace,
    labels: {
      ...cluster.spec.inheritedMetadata.labels,
      "cnpg.io/cluster": cluster.metadata.name,
      "cnpg.io/instanceRole": role,
      "cnpg.io/podRole": "instance",
      "app.kubernetes.io/name": "postgresql",
      "app.kubernetes.io/instance": cluster.metadata.name,
    },
  };
}

const client = { "trading-db-stack/client": "true" };
const platform: Pod = { namespace: "trading-platform", labels: { app: "api", ...client } };
const simulation: Pod = { namespace: "trading-simulation", labels: { app: "simulator", ...client } };
const unlabelled: Pod = { namespace: "trading-platform", labels: { app: "batch" } };
const elsewhere: Pod = { namespace: "someone-else", labels: { app: "x", ...client } };
const operator: Pod = { namespace: "cnpg-system", labels: { "app.kubernetes.io/name": "cloudnative-pg" } };
const dns: Pod = { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } };
const apiServer: Endpoint = { ip: "10.0.0.1" };
const internet: Endpoint = { ip: "203.0.113.10" };

describe("NetworkPolicies of prod on Kubernetes, with the admin tools", () => {
  let run: ProgramRun;
  let p: Policy[];
  let pg: Pod, replica: Pod, join: Pod, redis: Pod, influx: Pod, mongo: Pod, pgadmin: Pod, mongoExpress: Pod, stranger: Pod;
  beforeAll(async () => {
    run = await runProgram("prod", { adminTools: "true" });
    p = policies(run);
    pg = instancePod(run, "primary");
    replica = instancePod(run, "replica");
    // The operator's join Job (a new replica's base backup) carries the cluster's label too.
    join = { namespace: "trading-db", labels: { "cnpg.io/cluster": "trading-postgres", "cnpg.io/jobRole": "join" } };
    redis = workloadPod(run, "trading-redis");
    influx = workloadPod(run, "trading-influxdb");
    mongo = workloadPod(run, "trading-mongodb");
    pgadmin = workloadPod(run, "trading-pgadmin");
    mongoExpress = workloadPod(run, "trading-mongo-express");
    // A pod someone runs in the databases' namespace with the client label: not a consumer.
    stranger = { namespace: "trading-db", labels: { app: "debug", ...client } };
  });

  test("each database admits exactly the consumers that use it, from their own namespaces, with the client label", () => {
    const who = { platform, simulation, unlabelled, elsewhere, stranger };
    const admitted = (to: Pod, port: number) => Object.entries(who).filter(([, from]) => allowed(p, from, to, port)).map(([name]) => name);
    expect(admitted(pg, 5432)).toEqual(["platform", "simulation"]);
    expect(admitted(replica, 5432)).toEqual(["platform", "simulation"]);
    expect(admitted(redis, 6379)).toEqual(["platform"]);
    expect(admitted(influx, 8086)).toEqual(["platform"]);
    expect(admitted(mongo, 27017)).toEqual(["simulation"]);
    // Only the server's port.
    expect(allowed(p, platform, pg, 8000)).toBe(false);
    expect(allowed(p, platform, redis, 22)).toBe(false);
  });

  test("replication and the status port only between the PostgreSQL instances and from the operator; MongoDB members only among themselves", () => {
    for (const port of [5432, 8000]) {
      expect(allowed(p, replica, pg, port), `replica -> primary ${port}`).toBe(true);
      expect(allowed(p, operator, pg, port), `operator -> primary ${port}`).toBe(true);
      expect(allowed(p, { ...operator, namespace: "elsewhere" }, pg, port), `operator's labels elsewhere ${port}`).toBe(false);
    }
    expect(allowed(p, join, pg, 5432)).toBe(true);
    expect(allowed(p, mongo, pg, 5432)).toBe(false);
    expect(allowed(p, redis, pg, 5432)).toBe(false);
    expect(allowed(p, mongo, mongo, 27017)).toBe(true);
    expect(allowed(p, pg, mongo, 27017)).toBe(false);
    expect(allowed(p, influx, mongo, 27017)).toBe(false);
  });

  test("each admin tool reaches its own database only, and nothing reaches the tools (port-forwards only)", () => {
    expect(allowed(p, pgadmin, pg, 5432)).toBe(true);
    expect(allowed(p, pgadmin, mongo, 27017)).toBe(false);
    expect(allowed(p, pgadmin, redis, 6379)).toBe(false);
    expect(allowed(p, mongoExpress, mongo, 27017)).toBe(true);
    expect(allowed(p, mongoExpress, pg, 5432)).toBe(false);
    expect(allowed(p, platform, pgadmin, 5050)).toBe(false);
    expect(allowed(p, platform, mongoExpress, 8081)).toBe(false);
  });

  test("egress: Redis and InfluxDB reach nothing; MongoDB its members and DNS; PostgreSQL its instances, DNS and the API server", () => {
    for (const [name, pod] of Object.entries({ redis, influx })) {
      expect(allowed(p, pod, dns, 53, "UDP"), `${name} DNS`).toBe(false);
      expect(allowed(p, pod, internet, 443), `${name} internet`).toBe(false);
      expect(allowed(p, pod, platform, 8080), `${name} -> a consumer`).toBe(false);
    }
    expect(allowed(p, mongo, dns, 53, "UDP")).toBe(true);
    expect(allowed(p, mongo, internet, 443)).toBe(false);
    expect(allowed(p, mongo, redis, 6379)).toBe(false);
    expect(allowed(p, pg, dns, 53, "UDP")).toBe(true);
    expect(allowed(p, pg, dns, 53, "TCP")).toBe(true);
    expect(allowed(p, pg, replica, 5432)).toBe(true);
    expect(allowed(p, pg, apiServer, 6443)).toBe(true);
    expect(allowed(p, pg, apiServer, 443)).toBe(true);
    expect(allowed(p, pg, internet, 80)).toBe(false);
    expect(allowed(p, pg, mongo, 27017)).toBe(false);
    expect(allowed(p, pgadmin, internet, 443)).toBe(false);
  });

  test("kubernetesApiServerCidr narrows the instances' API egress to those addresses (an HA control plane has several)", async () => {
    const narrowed = policies(await runProgram("prod", { kubernetesApiServerCidr: "10.0.0.1/32, 10.0.0.2/32" }));
    const primary = instancePod(run, "primary");
    expect(allowed(narrowed, primary, apiServer, 6443)).toBe(true);
    expect(allowed(narrowed, primary, { ip: "10.0.0.2" }, 6443)).toBe(true);
    expect(allowed(narrowed, primary, { ip: "10.0.0.3" }, 6443)).toBe(false);
    expect(allowed(narrowed, primary, internet, 443)).toBe(false);
    expect(allowed(p, primary, internet, 443)).toBe(true);
  });

  test("every pod of the stack is under a policy both ways (the default deny), and every policy is valid against the schema", async () => {
    const { NetworkPolicy } = await import("kubernetes-models/networking.k8s.io/v1");
    for (const policy of p) expect(() => new NetworkPolicy(policy as any).validate(), policy.metadata.name).not.toThrow();
    for (const pod of [pg, redis, influx, mongo, pgadmin, mongoExpress]) {
      const selecting = (kind: string) => p.filter((x) => x.metadata.namespace === pod.namespace && x.spec.policyTypes.includes(kind) && Object.entries(x.spec.podSelector.matchLabels ?? {}).every(([k, v]) => pod.labels[k] === v));
      expect(selecting("Ingress").length, JSON.stringify(pod.labels)).toBeGreaterThan(0);
      expect(selecting("Egress").length, JSON.stringify(pod.labels)).toBeGreaterThan(0);
    }
  });
});

describe("the consumers' namespaces", () => {
  test("each consumer's env Secret is made in its own namespace, made when missing and never deleted; none in the databases' namespace", async () => {
    const run = await runProgram("prod");
    const secrets = ofKind(run, "Secret").filter((s) => s.metadata.labels?.["trading-db-stack/consumer"]);
    expect(secrets.map((s) => [s.metadata.namespace, s.metadata.name])).toEqual([
      ["trading-platform", "trading-advanced-trading-platform-env"],
      ["trading-simulation", "trading-trading-simulation-env"],
    ]);
    const namespaces = run.resources.filter((r) => r.type === "kubernetes:core/v1:Namespace" && value(r).metadata.name !== "trading-db");
    expect(namespaces.map((r) => value(r).metadata.name)).toEqual(["trading-platform", "trading-simulation"]);
    for (const ns of namespaces) {
      expect(ns.options.retainOnDelete, ns.name).toBe(true);
      // Taken over when it exists already (the services may be there first).
      expect(ns.options.provider).toContain("trading-kubernetes-adopting-provider");
    }
    expect(run.outputs.kubernetes.value.consumerSecrets).toEqual({
      "advanced-trading-platform": { namespace: "trading-platform", name: "trading-advanced-trading-platform-env" },
      "trading-simulation": { namespace: "trading-simulation", name: "trading-trading-simulation-env" },
    });
  });

  test("each consumer is admitted to exactly the servers its env map names (CONSUMER_DATABASES)", async () => {
    const { CONSUMER_DATABASES } = await import("../../components/service-env");
    const run = await runProgram("prod");
    for (const [consumer, env] of Object.entries<Record<string, string>>(run.outputs.serviceEnv.value.inNetwork)) {
      const servers = new Set(Object.values(env).flatMap((v) => [...v.matchAll(/trading-(postgres|mongodb|redis|influxdb)[-.]/g)].map((m) => m[1])));
      expect([...servers].sort(), consumer).toEqual([...CONSUMER_DATABASES[consumer as keyof typeof CONSUMER_DATABASES]].sort());
    }
  });

  test("two consumers in one namespace share it; kubernetesCreateConsumerNamespaces false makes none", async () => {
    const shared = await runProgram("prod", { kubernetesPlatformNamespace: "trading-apps", kubernetesSimulationNamespace: "trading-apps" });
    const made = (run: ProgramRun) => run.resources.filter((r) => r.type === "kubernetes:core/v1:Namespace").map((r) => value(r).metadata.name);
    expect(made(shared)).toEqual(["trading-db", "trading-apps"]);
    const p = policies(shared);
    const redis = workloadPod(shared, "trading-redis");
    expect(allowed(p, { namespace: "trading-apps", labels: client }, redis, 6379)).toBe(true);
    expect(allowed(p, platform, redis, 6379)).toBe(false);
    expect(made(await runProgram("prod", { kubernetesCreateConsumerNamespaces: "false" }))).toEqual(["trading-db"]);
  });
});

describe("the evaluator itself (the Kubernetes documentation's rules)", () => {
  const policy = (spec: any): Policy => ({ metadata: { name: "p", namespace: "a" }, spec });
  const db: Pod = { namespace: "a", labels: { role: "db" } };
  const front: Pod = { namespace: "b", labels: { role: "frontend" } };
  test("a pod no policy selects is open; an empty ingress list closes it; entries of `from` are alternatives, selectors in one entry all apply", () => {
    expect(allowed([], front, db, 1)).toBe(true);
    expect(allowed([policy({ podSelector: {}, policyTypes: ["Ingress"], ingress: [] })], front, db, 1)).toBe(false);
    const both = policy({ podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "b" } }, podSelector: { matchLabels: { role: "other" } } }] }] });
    expect(allowed([both], front, db, 1)).toBe(false);
    const either = policy({ podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "b" } } }, { podSelector: { matchLabels: { role: "other" } } }] }] });
    expect(allowed([either], front, db, 1)).toBe(true);
    // A podSelector alone means the policy's own namespace.
    expect(allowed([policy({ podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: { role: "frontend" } } }] }] })], front, db, 1)).toBe(false);
  });
  test("egress and ingress both decide; ports and protocols must match; ipBlock with except", () => {
    const out = { metadata: { name: "o", namespace: "b" }, spec: { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } }], ports: [{ protocol: "TCP", port: 443 }] }] } };
    expect(allowed([out], front, { ip: "10.2.3.4" }, 443)).toBe(true);
    expect(allowed([out], front, { ip: "10.1.3.4" }, 443)).toBe(false);
    expect(allowed([out], front, { ip: "10.2.3.4" }, 443, "UDP")).toBe(false);
    expect(allowed([out], front, db, 443)).toBe(false);
  });
});
