// What `pulumi up` does to a prod stack on Kubernetes that is already up when one setting changes:
// the program runs under mocks before and after, and every object whose inputs differ, appears or
// disappears is listed. A changed pod template rolls that StatefulSet's pods: downtime for a
// single-pod server, so only the server whose files or credentials changed may be touched.
// PostgreSQL is one CloudNativePG Cluster: the operator rolls its instances itself, one at a time.
import { beforeAll, describe, expect, test } from "vitest";
import { kubeconfigYaml } from "../support/kube-port-forward-server";
import { graphChanges as changes, plain, requireBuilt, runProgram, type ProgramRun } from "../support/pulumi";

function inputsByName(run: ProgramRun): Map<string, any> {
  return new Map(run.resources.map((r) => [r.name, plain(r.inputs)]));
}

describe("prod on Kubernetes: which objects a setting change touches", () => {
  let base: ProgramRun;
  beforeAll(async () => {
    base = await runProgram("prod");
  });

  test("the same settings twice change nothing", async () => {
    expect(changes(base, await runProgram("prod"))).toEqual({ added: [], removed: [], changed: [] });
  });

  test("replicas 2 -> 3 changes the Cluster's instances only: the operator adds the replica (no StatefulSet, slot or check of the stack's)", async () => {
    const after = await runProgram("prod", { postgresReplicas: "3" });
    expect(changes(base, after)).toEqual({ added: [], removed: [], changed: ["trading-postgres-cluster"] });
    const now = inputsByName(after).get("trading-postgres-cluster");
    expect(now.spec.instances).toBe(4);
    // And what `up` waits for: four ready instances.
    expect(now.metadata.annotations["pulumi.com/waitFor"]).toBe(JSON.stringify(["condition=Ready", "jsonpath={.status.readyInstances}=4"]));
    now.spec.instances = 3;
    now.metadata.annotations = inputsByName(base).get("trading-postgres-cluster").metadata.annotations;
    expect(now).toEqual(inputsByName(base).get("trading-postgres-cluster"));
  });

  test("an owner's new password changes only its Secret (the operator applies it in place, no restart) and the hook that logs in with it: no service uses it", async () => {
    const after = await runProgram("prod", { postgresPlatformOwnerPassword: "a-new-owner-password-0001" });
    const change = changes(base, after);
    expect(change.added).toEqual([]);
    // The user's own replaces the generated one.
    expect(change.removed).toEqual(["trading-secrets-postgres-trading-platform-owner-password"]);
    expect(change.changed).toEqual(["trading-postgres-init", "trading-postgres-trading-platform-owner-secret"].sort());
    expect(inputsByName(after).get("trading-postgres-trading-platform-owner-secret").stringData).toEqual({ username: "trading_platform_owner", password: "a-new-owner-password-0001" });
  });

  test("a service role's new password changes only its Secret and the env of the consumer that connects as it", async () => {
    const after = await runProgram("prod", { postgresPlatformServicePassword: "a-new-service-password-01" });
    const change = changes(base, after);
    expect(change.added).toEqual([]);
    expect(change.removed).toEqual(["trading-secrets-postgres-trading-platform-app-password"]);
    expect(change.changed).toEqual(["trading-postgres-trading-platform-app-secret", "trading-advanced-trading-platform-env"].sort());
    expect(inputsByName(after).get("trading-postgres-trading-platform-app-secret").stringData).toEqual({ username: "trading_platform_app", password: "a-new-service-password-01" });
  });
  test("a MongoDB root password rotation changes only the Mongo hook (updateUser through __system): no pod of the StatefulSet rolls", async () => {
    const change = changes(base, await runProgram("prod", { mongoRootPassword: "Users0Own0Mongo0Root0Password" }));
    expect(change).toEqual({ added: [], removed: ["trading-secrets-mongo-root-password"], changed: ["trading-mongo-init"] });
  });

  test("a retention change reaches only the InfluxDB hook; an election timeout only the Mongo hook", async () => {
    expect(changes(base, await runProgram("prod", { influxdbRetentionDays: "30" })).changed).toEqual(["trading-influxdb-init"]);
    expect(changes(base, await runProgram("prod", { mongoElectionTimeoutMs: "5000" })).changed).toEqual(["trading-mongo-init"]);
  });

  test("a storage size changes only that database's volumes: the Cluster's storage size in place (the operator grows the claims where the class allows), another database's claim templates (a replacement)", async () => {
    const after = await runProgram("prod", { postgresStorageGb: "200" });
    expect(changes(base, after)).toEqual({ added: [], removed: [], changed: ["trading-postgres-cluster"] });
    const now = inputsByName(after).get("trading-postgres-cluster");
    expect(now.spec.storage).toEqual({ size: "200Gi", resizeInUseVolumes: true });
    now.spec.storage = inputsByName(base).get("trading-postgres-cluster").spec.storage;
    expect(now).toEqual(inputsByName(base).get("trading-postgres-cluster"));

    const redis = await runProgram("prod", { redisStorageGb: "20" });
    expect(changes(base, redis)).toEqual({ added: [], removed: [], changed: ["trading-redis-server"] });
    expect(inputsByName(redis).get("trading-redis-server").spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("20Gi");
  });

  test("retainData off changes only the StatefulSets' claim retention policy (a field Kubernetes updates in place) and whether a destroy keeps the Cluster", async () => {
    const after = await runProgram("prod", { retainData: "false" });
    const change = changes(base, after);
    expect(change.changed).toEqual(["trading-influxdb-server", "trading-mongo-members", "trading-redis-server"]);
    const sts = inputsByName(after).get("trading-redis-server");
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Delete" });
    sts.spec.persistentVolumeClaimRetentionPolicy = inputsByName(base).get("trading-redis-server").spec.persistentVolumeClaimRetentionPolicy;
    expect(sts).toEqual(inputsByName(base).get("trading-redis-server"));
    // The same provider either way: the Cluster is never replaced for it.
    const [cluster, clusterAfter] = [base, after].map((run) => run.byName("trading-postgres-cluster").options);
    expect([cluster.retainOnDelete, clusterAfter.retainOnDelete]).toEqual([true, false]);
    expect(clusterAfter.provider.split("::")[3]).toBe(cluster.provider.split("::")[3]);
  });

  test("a kubeconfig whose token rotated updates the provider and the hooks only, and each hook finds its work done; another API server is new work", async () => {
    const { workFingerprint } = requireBuilt("init/hook.js");
    const kubeconfig = (token: string, server = "https://10.0.0.1:6443") =>
      kubeconfigYaml([{ name: "prod", server, token, tls: { "certificate-authority-data": "Q0EgMQ==" } }]);
    const monday = await runProgram("prod", { kubernetesKubeconfig: kubeconfig("token-of-monday") });
    const tuesday = await runProgram("prod", { kubernetesKubeconfig: kubeconfig("token-of-tuesday") });
    const hooks = monday.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/trading:") && plain(r.inputs).hookVersion !== undefined).map((r) => r.name);
    const checks = monday.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/trading:PostgresOperatorCheck").map((r) => r.name);
    const providers = monday.ofType("pulumi:providers:kubernetes").map((r) => r.name);
    expect(hooks.length).toBe(4);
    expect(changes(monday, tuesday)).toEqual({ added: [], removed: [], changed: [...providers, ...checks, ...hooks].sort() });
    const work = async (run: ProgramRun, hook: string) => workFingerprint(plain(run.byName(hook).inputs));
    for (const hook of hooks) expect(await work(tuesday, hook), hook).toBe(await work(monday, hook));

    const elsewhere = await runProgram("prod", { kubernetesKubeconfig: kubeconfig("token-of-monday", "https://10.9.0.1:6443") });
    for (const hook of hooks) expect(await work(elsewhere, hook), hook).not.toBe(await work(monday, hook));
  });
});
