// The check before PostgreSQL on Kubernetes (init/postgres/operator.ts), from the provider Pulumi
// serialised for the prod stack, against a local API server: the CloudNativePG operator missing,
// too old, or right (the real Cluster CRD of its 1.29.2 release, ../shared/contracts), and an
// earlier release's PostgreSQL StatefulSet in the namespace. Each problem stops the up, saying what to do.
import * as fs from "fs";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CNPG_MANIFEST } from "../support/crds";
import { kubeconfigYaml, startPortForwardServer, type PortForwardServer } from "../support/kube-port-forward-server";
import { runProgram, serializedHook, type SerializedHook } from "../support/pulumi";

const TOKEN = "check-token";
const crds: Record<string, unknown> = {};
const statefulSets: string[] = [];
const services: Record<string, Record<string, unknown>> = {};
/** The operator's Deployment in cnpg-system, as its release manifest makes it. */
const operatorAt = (image: string) => [{ metadata: { name: "cnpg-controller-manager", labels: { "app.kubernetes.io/name": "cloudnative-pg" } }, spec: { selector: {}, template: { spec: { containers: [{ name: "manager", image }] } } } }];
const deployments: Record<string, ReturnType<typeof operatorAt>> = { "cnpg-system": operatorAt("ghcr.io/cloudnative-pg/cloudnative-pg:1.29.2") };
let api: PortForwardServer;
let check: SerializedHook;
let inputs: Record<string, any>;

const clusterCrd = () =>
  YAML.parseAllDocuments(fs.readFileSync(CNPG_MANIFEST, "utf8"))
    .map((d) => d.toJS())
    .find((d) => d?.kind === "CustomResourceDefinition" && d.metadata.name === "clusters.postgresql.cnpg.io");

/** The check's failures, as `pulumi up` would show them. */
async function failures(token = TOKEN): Promise<string[]> {
  const kubeconfig = kubeconfigYaml([{ name: "prod", server: api.url, token }]);
  api.lookups = [];
  const result = await check.provider.check({}, { ...inputs, kubernetes: { ...inputs.kubernetes, kubeconfig } });
  // On no property: Pulumi would print the property's value (the kubeconfig) with it.
  for (const f of result.failures) expect(f.property).toBe("");
  return result.failures.map((f: { reason: string }) => f.reason);
}

beforeAll(async () => {
  const run = await runProgram("prod");
  check = serializedHook(run.byName("trading-kubernetes-cloudnative-pg-check"));
  inputs = check.inputs;
  api = await startPortForwardServer({ token: TOKEN, forbiddenTokens: ["no-rbac"], pods: {}, customResourceDefinitions: crds, statefulSets, services, deployments });
});

afterAll(async () => {
  await api?.close();
});

describe("before PostgreSQL on Kubernetes", () => {
  test("the operator installed at the pinned release: nothing in the way", async () => {
    crds["clusters.postgresql.cnpg.io"] = clusterCrd();
    expect(await failures()).toEqual([]);
    expect(api.lookups.map((l) => `${l.path} ${l.status}`)).toEqual([
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusters.postgresql.cnpg.io 200",
      "/apis/apps/v1/namespaces/cnpg-system/deployments 200",
      "/apis/apps/v1/namespaces/trading-db/statefulsets/trading-postgres 404",
      "/api/v1/namespaces/trading-db/services/trading-postgres-ro 404",
    ]);
  });

  test("no operator: the up stops before anything is made, naming the command that installs the pinned release", async () => {
    delete crds["clusters.postgresql.cnpg.io"];
    const [problem, ...others] = await failures();
    expect(others).toEqual([]);
    expect(problem).toContain("CloudNativePG is not installed in the cluster at http://127.0.0.1:");
    expect(problem).toContain("no CustomResourceDefinition clusters.postgresql.cnpg.io");
    expect(problem).toContain("`kubectl apply --server-side -f https://raw.githubusercontent.com/cloudnative-pg/cloudnative-pg/release-1.29/releases/cnpg-1.29.2.yaml`");
    expect(problem).toContain("`kubectl -n cnpg-system get deploy -l app.kubernetes.io/name=cloudnative-pg`");
    expect(problem).not.toMatch(/no matches for kind/);
  });

  test("an operator older than 1.26 (no streaming readiness probe): upgrade it, with the same command", async () => {
    const old = clusterCrd();
    delete old.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.probes.properties.readiness.properties.type;
    crds["clusters.postgresql.cnpg.io"] = old;
    expect(await failures()).toEqual([expect.stringMatching(/^the CloudNativePG operator in the cluster at .* is older than 1\.26 \(its Cluster has no spec\.probes\.readiness\.type\); this stack needs 1\.29\.2: upgrade it with `kubectl apply --server-side -f .*cnpg-1\.29\.2\.yaml`/)]);
  });

  test("an earlier release's PostgreSQL StatefulSet in the namespace: the up stops, pointing to moving the data", async () => {
    crds["clusters.postgresql.cnpg.io"] = clusterCrd();
    statefulSets.push("trading-db/trading-postgres");
    try {
      expect(await failures()).toEqual([expect.stringMatching(/^namespace trading-db holds the PostgreSQL StatefulSet trading-postgres of an earlier release of this stack; .* would start empty beside it.*Moving PostgreSQL to CloudNativePG.*nothing was changed$/)]);
    } finally {
      statefulSets.length = 0;
    }
  });

  test("an operator release below the pinned one (its fixes: CVE-2026-55769): upgrade it", async () => {
    crds["clusters.postgresql.cnpg.io"] = clusterCrd();
    deployments["cnpg-system"] = operatorAt("ghcr.io/cloudnative-pg/cloudnative-pg:1.29.1");
    try {
      expect(await failures()).toEqual([expect.stringMatching(/^the CloudNativePG operator cnpg-controller-manager in namespace cnpg-system runs ghcr\.io\/cloudnative-pg\/cloudnative-pg:1\.29\.1, older than 1\.29\.2, .*CVE-2026-55769.*upgrade it with `kubectl apply/)]);
      deployments["cnpg-system"] = operatorAt("ghcr.io/cloudnative-pg/cloudnative-pg:1.29.10");
      expect(await failures()).toEqual([]);
    } finally {
      deployments["cnpg-system"] = operatorAt("ghcr.io/cloudnative-pg/cloudnative-pg:1.29.2");
    }
  });

  test("an earlier release's -ro Service, which the operator would refuse to take over: stopped; the operator's own passes", async () => {
    crds["clusters.postgresql.cnpg.io"] = clusterCrd();
    services["trading-db/trading-postgres-ro"] = { labels: { "app.kubernetes.io/part-of": "trading-db-stack" } };
    try {
      expect(await failures()).toEqual([expect.stringMatching(/^namespace trading-db holds the Service trading-postgres-ro of an earlier release of this stack, which the CloudNativePG operator would have to own/)]);
      services["trading-db/trading-postgres-ro"] = { ownerReferences: [{ apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster", name: "trading-postgres", uid: "u" }] };
      expect(await failures()).toEqual([]);
    } finally {
      delete services["trading-db/trading-postgres-ro"];
    }
  });

  test("a user who may not read CRDs or the operator's namespace is not stopped for it; one who may not read StatefulSets is told the check could not run", async () => {
    crds["clusters.postgresql.cnpg.io"] = clusterCrd();
    expect(await failures("no-rbac")).toEqual([
      expect.stringMatching(/^cannot check namespace trading-db for an earlier PostgreSQL StatefulSet trading-postgres at .*: .*403/),
      expect.stringMatching(/^cannot check namespace trading-db for an earlier Service trading-postgres-ro at .*: .*403/),
    ]);
  });
});
