// Who may reach each server of the stack, and whom it may reach: the specs of its NetworkPolicies,
// built by pure functions (tested by evaluating them as a cluster would, test/support/network-policy.ts).
// Every pod of the stack is isolated both ways (the default deny in context.ts); each server's own
// policy then admits the consumers that use it, from their namespaces, and the stack's pods that
// need it, and lets it reach only its peers and DNS. Port-forwards (hooks, npm run verify/forward)
// enter a pod through the kubelet and are governed by RBAC instead.
import type { KubernetesConfig } from "../config";
import { CONSUMER_DATABASES, CONSUMERS, type DatabaseKind } from "../service-env";

export type Labels = Record<string, string>;

/** Pods by their labels, in the stack's namespace or (namespace set) in another. */
export interface PolicyPeer {
  pods: Labels;
  namespace?: string;
}

export interface ServerTraffic {
  /** Who may connect, and to which ports. */
  ingress: Array<{ from: PolicyPeer[]; ports: number[] }>;
  /** Whom it may connect to, and on which ports. */
  egress: Array<{ to: PolicyPeer[]; ports: number[] }>;
  /** Resolve names (its peers', its servers'): port 53 on any address, since node-local DNS caches are no pods. */
  dns: boolean;
  /** Reach the Kubernetes API (CloudNativePG's instance manager): ports 443 and 6443, on the given CIDRs or anywhere. */
  apiServer?: { cidrs: string[] | undefined };
}

/** The label every namespace carries with its own name (Kubernetes 1.21+). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

const API_SERVER_PORTS = [443, 6443];

/** The pods of every consumer that uses `database`, each in its own namespace, with the client label. */
export function consumerPeers(config: Pick<KubernetesConfig, "clientLabel" | "consumerNamespaces">, database: DatabaseKind): PolicyPeer[] {
  const namespaces = CONSUMERS.filter((c) => CONSUMER_DATABASES[c].includes(database)).map((c) => config.consumerNamespaces[c]);
  return [...new Set(namespaces)].map((namespace) => ({ namespace, pods: { [config.clientLabel.key]: config.clientLabel.value } }));
}

function peer(p: PolicyPeer) {
  return {
    podSelector: { matchLabels: p.pods },
    ...(p.namespace !== undefined ? { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: p.namespace } } } : {}),
  };
}

const tcp = (ports: number[]) => ports.map((port) => ({ protocol: "TCP", port }));

/** A NetworkPolicy's spec for the pods `selector` picks: isolated both ways, then `traffic` admitted. */
export function serverPolicySpec(selector: Labels, traffic: ServerTraffic) {
  const egress = [
    ...traffic.egress.filter((rule) => rule.to.length > 0).map((rule) => ({ to: rule.to.map(peer), ports: tcp(rule.ports) })),
    ...(traffic.dns ? [{ ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] }] : []),
    ...(traffic.apiServer ? [{ ...(traffic.apiServer.cidrs ? { to: traffic.apiServer.cidrs.map((cidr) => ({ ipBlock: { cidr } })) } : {}), ports: tcp(API_SERVER_PORTS) }] : []),
  ];
  return {
    podSelector: { matchLabels: selector },
    policyTypes: ["Ingress", "Egress"],
    ingress: traffic.ingress.filter((rule) => rule.from.length > 0).map((rule) => ({ from: rule.from.map(peer), ports: tcp(rule.ports) })),
    egress,
  };
}

/** The default deny: every pod `selector` picks is isolated for ingress and egress. */
export function denyAllSpec(selector: Labels) {
  return { podSelector: { matchLabels: selector }, policyTypes: ["Ingress", "Egress"] };
}
