// Decides, as a cluster's network plugin does, whether NetworkPolicies let one pod connect to
// another (or to an address outside the cluster) on a port: the semantics of networking.k8s.io/v1
// (https://kubernetes.io/docs/concepts/services-networking/network-policies/). A pod selected by
// no policy of a direction is open in that direction; a selected pod admits the union of its
// policies' rules. A connection needs the source's egress and the destination's ingress.
import * as net from "net";

export type Labels = Record<string, string>;

export interface Pod {
  namespace: string;
  labels: Labels;
  /** Its address, for ipBlock rules. */
  ip?: string;
}

/** An address outside the cluster's pods: the API server, a node-local DNS cache, the internet. */
export interface External {
  ip: string;
}

export type Endpoint = Pod | External;

export interface Policy {
  metadata: { name: string; namespace: string };
  spec: any;
}

interface Selector {
  matchLabels?: Labels;
  matchExpressions?: Array<{ key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }>;
}

/** A label selector; an empty one matches everything. */
export function matches(selector: Selector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    if (e.operator === "In" && !inValues) return false;
    if (e.operator === "NotIn" && inValues) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

const isPod = (e: Endpoint): e is Pod => "namespace" in e;
const namespaceLabels = (namespace: string): Labels => ({ "kubernetes.io/metadata.name": namespace });

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  if (net.isIPv4(ip) !== net.isIPv4(base)) return false;
  const block = new net.BlockList();
  block.addSubnet(base, Number(bits), net.isIPv4(base) ? "ipv4" : "ipv6");
  return block.check(ip, net.isIPv4(ip) ? "ipv4" : "ipv6");
}

/** Whether a rule's peer (from/to entry) is `other`, seen from a policy in `policyNamespace`. */
function peerMatches(peer: any, other: Endpoint, policyNamespace: string): boolean {
  if (peer.ipBlock) {
    const ip = other.ip;
    if (!ip || !inCidr(ip, peer.ipBlock.cidr)) return false;
    return !(peer.ipBlock.except ?? []).some((c: string) => inCidr(ip, c));
  }
  if (!isPod(other)) return false;
  // Without a namespaceSelector the peer is in the policy's own namespace.
  const namespaceOk = peer.namespaceSelector ? matches(peer.namespaceSelector, namespaceLabels(other.namespace)) : other.namespace === policyNamespace;
  return namespaceOk && matches(peer.podSelector, other.labels);
}

function portMatches(ports: any[] | undefined, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => (p.protocol ?? "TCP") === protocol && (p.port === undefined || (p.endPort === undefined ? p.port === port : port >= p.port && port <= p.endPort)));
}

function direction(policy: Policy): { ingress: boolean; egress: boolean } {
  const types: string[] = policy.spec.policyTypes ?? (policy.spec.egress ? ["Ingress", "Egress"] : ["Ingress"]);
  return { ingress: types.includes("Ingress"), egress: types.includes("Egress") };
}

function selecting(policies: Policy[], pod: Pod, kind: "ingress" | "egress"): Policy[] {
  return policies.filter((p) => p.metadata.namespace === pod.namespace && direction(p)[kind] && matches(p.spec.podSelector, pod.labels));
}

/** Whether `from` may open a connection to `to` on `port`. */
export function allowed(policies: Policy[], from: Endpoint, to: Endpoint, port: number, protocol = "TCP"): boolean {
  if (isPod(from)) {
    const egress = selecting(policies, from, "egress");
    if (egress.length > 0) {
      const ok = egress.some((p) => (p.spec.egress ?? []).some((rule: any) => portMatches(rule.ports, port, protocol) && (!rule.to || rule.to.length === 0 || rule.to.some((peer: any) => peerMatches(peer, to, p.metadata.namespace)))));
      if (!ok) return false;
    }
  }
  if (isPod(to)) {
    const ingress = selecting(policies, to, "ingress");
    if (ingress.length > 0) {
      return ingress.some((p) => (p.spec.ingress ?? []).some((rule: any) => portMatches(rule.ports, port, protocol) && (!rule.from || rule.from.length === 0 || rule.from.some((peer: any) => peerMatches(peer, from, p.metadata.namespace)))));
    }
  }
  return true;
}
