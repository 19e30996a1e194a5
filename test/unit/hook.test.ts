// What counts as a change of a hook's work (init/hook.ts workFingerprint): a Kubernetes target counts
// by the cluster its kubeconfig reaches, not by the credentials that reach it.
import { describe, expect, test } from "vitest";
import { workFingerprint } from "../../init/hook";
import { kubeconfigYaml, type KubeContext } from "../support/kube-port-forward-server";

const CA = { "certificate-authority-data": "Q0EgMQ==" };

/** A kubeconfig's contents with one cluster, user and context ("prod", token-1, a CA). */
const kubeconfig = (context: Partial<KubeContext> = {}) => kubeconfigYaml([{ name: "prod", server: "https://10.0.0.1:6443", token: "token-1", tls: CA, ...context }]);

const hookInputs = (target: Record<string, unknown>) => ({
  hookVersion: "v1",
  host: "trading-postgres.trading.svc",
  port: 5432,
  superuserPassword: "secret",
  kubernetes: { namespace: "trading", pod: "trading-postgres-0", ...target },
});
const same = async (a: Record<string, unknown>, b: Record<string, unknown>) => (await workFingerprint(hookInputs(a))) === (await workFingerprint(hookInputs(b)));

describe("a hook's work fingerprint", () => {
  test("another token, client certificate or exec plugin, or a renamed context: the same work", async () => {
    const base = { kubeconfig: kubeconfig() };
    expect(await same(base, { kubeconfig: kubeconfig({ token: "token-2" }) })).toBe(true);
    expect(await same(base, { kubeconfig: kubeconfig({ user: { "client-certificate-data": "Y2VydA==", "client-key-data": "a2V5" } }) })).toBe(true);
    expect(await same(base, { kubeconfig: kubeconfig({ user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "aws", args: ["eks", "get-token"] } } }) })).toBe(true);
    expect(await same({ ...base, context: "prod" }, { kubeconfig: kubeconfig({ name: "production" }), context: "production" })).toBe(true);
  });

  test("another API server or CA (another cluster), pod, namespace or any other input: new work", async () => {
    const base = { kubeconfig: kubeconfig() };
    expect(await same(base, { kubeconfig: kubeconfig({ server: "https://10.0.0.2:6443" }) })).toBe(false);
    expect(await same(base, { kubeconfig: kubeconfig({ tls: { "certificate-authority-data": "Q0EgMg==" } }) })).toBe(false);
    expect(await same(base, { ...base, pod: "trading-postgres-1" })).toBe(false);
    expect(await same(base, { ...base, namespace: "trading-2" })).toBe(false);
    const inputs = hookInputs(base);
    expect(await workFingerprint({ ...inputs, superuserPassword: "another" })).not.toBe(await workFingerprint(inputs));
    expect(await workFingerprint({ ...inputs, hookVersion: "v2" })).not.toBe(await workFingerprint(inputs));
  });

  test("a pod found by its labels counts by its selector and cluster: a rotated token is the same work, another selector is not", async () => {
    const primary = { pod: undefined, selector: { labels: "cnpg.io/cluster=trading-postgres,cnpg.io/instanceRole=primary" } };
    expect(await same({ ...primary, kubeconfig: kubeconfig() }, { ...primary, kubeconfig: kubeconfig({ token: "token-2" }) })).toBe(true);
    expect(await same({ ...primary, kubeconfig: kubeconfig() }, { ...primary, kubeconfig: kubeconfig({ server: "https://10.0.0.2:6443" }) })).toBe(false);
    expect(await same({ ...primary, kubeconfig: kubeconfig() }, { pod: undefined, selector: { labels: "cnpg.io/cluster=other" }, kubeconfig: kubeconfig() })).toBe(false);
    expect(await same({ ...primary, kubeconfig: kubeconfig() }, { pod: undefined, selector: { ...primary.selector, index: 1 }, kubeconfig: kubeconfig() })).toBe(false);
    expect(await same({ ...primary, kubeconfig: kubeconfig() }, { kubeconfig: kubeconfig() })).toBe(false);
  });

  test("a kubeconfig with two clusters: the context chosen decides, by its cluster's server, not by the cluster's name", async () => {
    const twoClusters = (token: string, names = ["blue", "green"]) =>
      kubeconfigYaml(names.map((name, i) => ({ name, server: `https://10.0.${i}.1:6443`, token, tls: CA })));
    expect(await same({ kubeconfig: twoClusters("a"), context: "blue" }, { kubeconfig: twoClusters("b"), context: "blue" })).toBe(true);
    expect(await same({ kubeconfig: twoClusters("a"), context: "blue" }, { kubeconfig: twoClusters("a"), context: "green" })).toBe(false);
    expect(await same({ kubeconfig: twoClusters("a") }, { kubeconfig: twoClusters("a"), context: "green" })).toBe(false);
    // Clusters renamed, contexts with them: the same servers.
    expect(await same({ kubeconfig: twoClusters("a"), context: "blue" }, { kubeconfig: twoClusters("a", ["azure", "jade"]), context: "azure" })).toBe(true);
  });

  test("the TLS settings that decide which server is trusted count as the cluster", async () => {
    const withTls = (tls: Record<string, unknown>) => kubeconfig({ tls });
    const base = { kubeconfig: withTls({ "certificate-authority-data": "Q0EgMQ==" }) };
    expect(await same(base, { kubeconfig: withTls({ "certificate-authority-data": "Q0EgMQ==", "tls-server-name": "api.other" }) })).toBe(false);
    expect(await same(base, { kubeconfig: withTls({ "insecure-skip-tls-verify": true }) })).toBe(false);
    expect(await same(base, { kubeconfig: withTls({ "certificate-authority": "/etc/ca.crt" }) })).toBe(false);
  });

  test("targets nested in lists count the same way (the Mongo hook's clientEndpoints)", async () => {
    const endpoints = (token: string, server?: string) => ({
      clientEndpoints: [0, 1].map((i) => ({ host: `m-${i}`, port: 27017, kubernetes: { namespace: "trading", pod: `m-${i}`, kubeconfig: kubeconfig({ token, ...(server ? { server } : {}) }) } })),
    });
    expect(await workFingerprint(endpoints("a"))).toBe(await workFingerprint(endpoints("b")));
    expect(await workFingerprint(endpoints("a"))).not.toBe(await workFingerprint(endpoints("a", "https://10.0.0.9:6443")));
  });

  test("a kubeconfig path counts as given (its contents are no input); contents that do not load count as they are", async () => {
    expect(await same({ kubeconfig: "~/.kube/prod" }, { kubeconfig: "~/.kube/prod" })).toBe(true);
    expect(await same({ kubeconfig: "~/.kube/prod" }, { kubeconfig: "~/.kube/staging" })).toBe(false);
    expect(await same({}, { kubeconfig: "~/.kube/prod" })).toBe(false);
    expect(await same({ kubeconfig: "not: [a kubeconfig\ntoken: 1" }, { kubeconfig: "not: [a kubeconfig\ntoken: 2" })).toBe(false);
    expect(await same({ kubeconfig: kubeconfig(), context: "missing" }, { kubeconfig: kubeconfig({ token: "token-2" }), context: "missing" })).toBe(false);
  });
});
