// What `pulumi up` does to a prod stack on Kubernetes that is already up when one setting changes:
// the program runs under mocks before and after, and every object whose inputs differ, appears or
// disappears is listed. A changed pod template rolls that StatefulSet's pods: downtime for a
// single-pod server, so only the server whose files or credentials changed may be touched.
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

  test("replicas 2 -> 3 adds replica 3's objects and hooks only; the read-only Service and the replicas' budget select it by label", async () => {
    const change = changes(base, await runProgram("prod", { postgresReplicas: "3" }));
    expect(change.removed).toEqual([]);
    expect(change.changed).toEqual([]);
    expect(change.added).toEqual(
      [
        "trading-postgres-replica-3",
        "trading-postgres-replica-3-clients",
        "trading-postgres-replica-3-files",
        "trading-postgres-replica-3-headless",
        "trading-postgres-replica-3-secrets",
        "trading-postgres-replica-3-service",
        "trading-postgres-replica-3-check",
        "trading-postgres-replica-3-slot",
      ].sort(),
    );
  });

  test("a new superuser password rolls the primary only (its Secret and pod-template hash), and re-runs the hooks that log in with it", async () => {
    const after = await runProgram("prod", { postgresSuperuserPassword: "a-new-superuser-password-1" });
    const change = changes(base, after);
    expect(change.added).toEqual([]);
    // The user's own replaces the generated one.
    expect(change.removed).toEqual(["trading-secrets-postgres-postgres-password"]);
    expect(change.changed).toEqual(
      ["trading-postgres-primary", "trading-postgres-primary-secrets", "trading-postgres-init", "trading-postgres-replica-1-slot", "trading-postgres-replica-2-slot", "trading-postgres-replica-1-check", "trading-postgres-replica-2-check"].sort(),
    );
    // The StatefulSet differs only in its template's secrets hash: a rolling restart, same volume claims.
    const before = inputsByName(base).get("trading-postgres-primary");
    const now = inputsByName(after).get("trading-postgres-primary");
    const annotations = (sts: any) => sts.spec.template.metadata.annotations;
    expect(annotations(now)["trading-db-stack/secrets-hash"]).not.toBe(annotations(before)["trading-db-stack/secrets-hash"]);
    now.spec.template.metadata.annotations = annotations(before);
    expect(now).toEqual(before);
  });

  test("a retention change reaches only the InfluxDB hook; an election timeout only the Mongo hook", async () => {
    expect(changes(base, await runProgram("prod", { influxdbRetentionDays: "30" })).changed).toEqual(["trading-influxdb-init"]);
    expect(changes(base, await runProgram("prod", { mongoElectionTimeoutMs: "5000" })).changed).toEqual(["trading-mongo-init"]);
  });

  test("a storage size changes only the volume claim templates of that database's StatefulSets (a replacement: documented, data kept only with retainData)", async () => {
    const after = await runProgram("prod", { postgresStorageGb: "200" });
    const change = changes(base, after);
    expect(change).toEqual({ added: [], removed: [], changed: ["trading-postgres-primary", "trading-postgres-replica-1", "trading-postgres-replica-2"] });
    for (const name of change.changed) {
      const now = inputsByName(after).get(name);
      expect(now.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("200Gi");
      now.spec.volumeClaimTemplates = inputsByName(base).get(name).spec.volumeClaimTemplates;
      expect(now, name).toEqual(inputsByName(base).get(name));
    }
  });

  test("retainData off changes only the StatefulSets' claim retention policy (a field Kubernetes updates in place)", async () => {
    const after = await runProgram("prod", { retainData: "false" });
    const change = changes(base, after);
    expect(change.changed).toEqual(["trading-influxdb-server", "trading-mongo-members", "trading-postgres-primary", "trading-postgres-replica-1", "trading-postgres-replica-2", "trading-redis-server"]);
    const sts = inputsByName(after).get("trading-redis-server");
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Delete" });
    sts.spec.persistentVolumeClaimRetentionPolicy = inputsByName(base).get("trading-redis-server").spec.persistentVolumeClaimRetentionPolicy;
    expect(sts).toEqual(inputsByName(base).get("trading-redis-server"));
  });

  test("a kubeconfig whose token rotated updates the provider and the hooks only, and each hook finds its work done; another API server is new work", async () => {
    const { workFingerprint } = requireBuilt("init/hook.js");
    const kubeconfig = (token: string, server = "https://10.0.0.1:6443") =>
      kubeconfigYaml([{ name: "prod", server, token, tls: { "certificate-authority-data": "Q0EgMQ==" } }]);
    const monday = await runProgram("prod", { kubernetesKubeconfig: kubeconfig("token-of-monday") });
    const tuesday = await runProgram("prod", { kubernetesKubeconfig: kubeconfig("token-of-tuesday") });
    const hooks = monday.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/trading:")).map((r) => r.name);
    const providers = monday.ofType("pulumi:providers:kubernetes").map((r) => r.name);
    expect(hooks.length).toBeGreaterThanOrEqual(6);
    expect(changes(monday, tuesday)).toEqual({ added: [], removed: [], changed: [...providers, ...hooks].sort() });
    const work = async (run: ProgramRun, hook: string) => workFingerprint(plain(run.byName(hook).inputs));
    for (const hook of hooks) expect(await work(tuesday, hook), hook).toBe(await work(monday, hook));

    const elsewhere = await runProgram("prod", { kubernetesKubeconfig: kubeconfig("token-of-monday", "https://10.9.0.1:6443") });
    for (const hook of hooks) expect(await work(elsewhere, hook), hook).not.toBe(await work(monday, hook));
  });
});
