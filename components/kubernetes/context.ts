// Where the Kubernetes engine deploys: the provider, the namespace (created or existing), the
// labels every object carries, and the stack-wide NetworkPolicy. Components get a
// KubernetesContext and hand it to kubernetesWorkload.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { CommonConfig, KubernetesConfig } from "../config";
import { formerlyNamed } from "../names";
import { PostgresOperatorCheck } from "../../init/postgres/resources";
import { CONSUMERS, type Consumer, type DatabaseKind } from "../service-env";
import { CNPG_INSTALL_COMMAND, CNPG_OPERATOR_POD_LABELS, CNPG_RELEASE, selectorText } from "./cloudnative-pg";
import { consumerPeers, denyAllSpec, serverPolicySpec, type Labels, type PolicyPeer } from "./network-policy";

/**
 * Pod Security Admission on a namespace the stack creates: the "restricted" standard enforced (and
 * audited, and warned of). Every pod template the stack declares meets it (runAsNonRoot, no
 * privilege escalation, every capability dropped but NET_BIND_SERVICE, RuntimeDefault seccomp,
 * only claim, configMap, secret and emptyDir volumes), and so do CloudNativePG's instance pods.
 */
export const POD_SECURITY_LABELS = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
  "pod-security.kubernetes.io/audit": "restricted",
  "pod-security.kubernetes.io/warn": "restricted",
};

export interface KubernetesContext {
  provider: k8s.Provider;
  /**
   * The provider of an object a destroy with retainData keeps (the PostgreSQL Cluster): it takes
   * over one that exists already (upsert), as the next stack's `up` finds it. One provider whatever
   * retainData says, so that turning retainData on or off never replaces what it manages.
   */
  adoptingProvider: k8s.Provider;
  namespace: string;
  /** `dependsOn` of every object in the namespace: the namespace, when the stack creates it. */
  namespaceReady: pulumi.Resource[];
  /** `dependsOn` of an object in a consumer's namespace: that namespace, when the stack creates it. */
  consumerNamespaceReady: Record<Consumer, pulumi.Resource[]>;
  storageClass: string | undefined;
  retainData: boolean;
  /** How long `pulumi up` waits for a workload to be ready (waitTimeoutSeconds). */
  waitTimeoutSeconds: number;
  /** Key of the HMAC that hashes credentials into pod annotations. Secret. */
  rolloutKey: pulumi.Output<string>;
  config: KubernetesConfig;
  /** <prefix>-<service>: the name of every object of one server. */
  objectName(service: string): string;
  /** Labels of a server's objects and pods. */
  labels(service: string, role: string): Record<string, string>;
  /** The labels a server's selector matches (never changed: selectors are immutable). */
  selectorLabels(service: string): Record<string, string>;
  /** The labels of every server of a kind (all PostgreSQL, all MongoDB): for anti-affinity. */
  kindLabels(service: string): Record<string, string>;
  /** Labels every pod of this stack has. */
  stackLabels: Record<string, string>;
}

export const PART_OF = "trading-db-stack";

/** An object's name in the cluster, and its resource's Pulumi name (derived from its component's; the first release used the object's). */
export interface ObjectNames {
  objectName: string;
  resourceName: string;
}

/** postgres-replica-2 -> postgres; mongodb -> mongodb. */
function kindOf(service: string): string {
  return service.replace(/-replica-\d+$/, "").replace(/-\d+$/, "");
}

export interface KubernetesClusterArgs {
  config: KubernetesConfig;
  common: CommonConfig;
  rolloutKey: pulumi.Output<string>;
}

export class KubernetesCluster extends pulumi.ComponentResource {
  readonly context: KubernetesContext;

  constructor(name: string, args: KubernetesClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:kubernetes:Cluster", name, {}, opts);
    const { config, common } = args;
    const cluster = {
      // Contents may carry credentials: a secret in the state either way.
      ...(config.kubeconfig ? { kubeconfig: pulumi.secret(config.kubeconfig) } : {}),
      ...(config.context ? { context: config.context } : {}),
    };
    // ConfigMaps and Secrets updated in place, not deleted and created again (a pod starting in
    // between would miss them); each pod template's hashes roll the pods that mount them.
    const provider = new k8s.Provider(`${name}-provider`, { ...cluster, namespace: config.namespace, enableConfigMapMutable: true, enableSecretMutable: true }, { parent: this });
    const stackLabels = { "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/instance": common.namePrefix };
    // Nothing is made before the cluster is known to run CloudNativePG (PostgreSQL is its Cluster).
    const operatorCheck = new PostgresOperatorCheck(
      `${name}-cloudnative-pg-check`,
      {
        kubernetes: pulumi.secret({ namespace: config.namespace, ...(config.context ? { context: config.context } : {}), ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}) }),
        crd: "clusters.postgresql.cnpg.io",
        needs: { path: "probes.readiness.type", since: "1.26" },
        release: CNPG_RELEASE,
        installCommand: CNPG_INSTALL_COMMAND,
        operator: { namespace: config.operatorNamespace, labels: selectorText(CNPG_OPERATOR_POD_LABELS) },
        formerStatefulSet: `${common.namePrefix}-postgres`,
        formerService: `${common.namePrefix}-postgres-ro`,
      },
      { parent: this },
    );
    const adoptingProvider = new k8s.Provider(`${name}-adopting-provider`, { ...cluster, namespace: config.namespace, upsertExistingObjects: true }, { parent: this });
    const namespaceResource = config.createNamespace
      ? new k8s.core.v1.Namespace(
          `${name}-namespace`,
          { metadata: { name: config.namespace, labels: { ...stackLabels, "app.kubernetes.io/managed-by": "pulumi", ...POD_SECURITY_LABELS } } },
          // A namespace's deletion takes every object and volume claim in it: kept when data is
          // kept, and then taken over again by the next `up` of a new stack (where the claims wait).
          {
            parent: this,
            dependsOn: [operatorCheck],
            retainOnDelete: common.retainData,
            provider: common.retainData ? new k8s.Provider(`${name}-namespace-provider`, { ...cluster, upsertExistingObjects: true }, { parent: this }) : provider,
          },
        )
      : undefined;
    // The consumers' namespaces hold their services: made when missing (an existing one is taken
    // over as it is), and never deleted by a destroy.
    const consumerNamespaces = new Map<string, pulumi.Resource[]>();
    for (const namespace of new Set(Object.values(config.consumerNamespaces))) {
      const made = config.createConsumerNamespaces
        ? [new k8s.core.v1.Namespace(`${name}-consumer-namespace-${namespace}`, { metadata: { name: namespace } }, { parent: this, provider: adoptingProvider, retainOnDelete: true, dependsOn: [operatorCheck] })]
        : [];
      consumerNamespaces.set(namespace, made);
    }
    this.context = {
      provider,
      adoptingProvider,
      namespace: config.namespace,
      namespaceReady: [operatorCheck, ...(namespaceResource ? [namespaceResource] : [])],
      consumerNamespaceReady: Object.fromEntries(CONSUMERS.map((c) => [c, consumerNamespaces.get(config.consumerNamespaces[c]) ?? []])) as Record<Consumer, pulumi.Resource[]>,
      storageClass: config.storageClass,
      retainData: common.retainData,
      waitTimeoutSeconds: common.waitTimeoutSeconds,
      rolloutKey: args.rolloutKey,
      config,
      objectName: (service) => `${common.namePrefix}-${service}`,
      labels: (service, role) => ({
        ...stackLabels,
        "app.kubernetes.io/name": service,
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/managed-by": "pulumi",
        "trading-db-stack/kind": kindOf(service),
      }),
      selectorLabels: (service) => ({ ...stackLabels, "app.kubernetes.io/name": service }),
      kindLabels: (service) => ({ ...stackLabels, "trading-db-stack/kind": kindOf(service) }),
      stackLabels,
    };

    // Nothing reaches the stack's pods, and they reach nothing, unless a server's own policy admits
    // it (port-forward, which the hooks and operators use, enters the pod directly and is governed
    // by RBAC instead).
    new k8s.networking.v1.NetworkPolicy(
      `${name}-default-deny`,
      { metadata: { name: `${common.namePrefix}-default-deny`, namespace: config.namespace, labels: stackLabels }, spec: denyAllSpec(stackLabels) },
      { parent: this, provider, dependsOn: this.context.namespaceReady },
    );
    this.registerOutputs({ namespace: config.namespace });
  }
}

/** Who may reach a server of the stack, and whom it reaches (see network-policy.ts). */
export interface ServerNetwork {
  /** The database it is, for the consumers that use it; undefined for the admin tools. */
  database?: DatabaseKind;
  /** Its pods reach each other on its port (MongoDB members). */
  peers?: boolean;
  /** Services of the stack whose pods may connect (the admin tool that shows it). */
  admits?: string[];
  /** Pods it connects to, and on which port (an admin tool's database). */
  reaches?: Array<{ pods: Labels; port: number }>;
}

/**
 * A server's NetworkPolicy: to its port only from the consumers that use its database (in their
 * namespaces, with the client label), its peers and the stack's pods it names; from it only to its
 * peers, what it reaches, and DNS when it resolves any of those.
 */
export function serverNetworkPolicy(
  c: KubernetesContext,
  names: ObjectNames,
  selector: Labels,
  port: number,
  network: ServerNetwork,
  opts: pulumi.CustomResourceOptions,
): k8s.networking.v1.NetworkPolicy {
  const name = names.objectName;
  const peers: PolicyPeer[] = network.peers ? [{ pods: selector }] : [];
  const admitted: PolicyPeer[] = [...(network.database ? consumerPeers(c.config, network.database) : []), ...(network.admits ?? []).map((service) => ({ pods: c.selectorLabels(service) })), ...peers];
  const reaches = network.reaches ?? [];
  const spec = serverPolicySpec(selector, {
    ingress: [{ from: admitted, ports: [port] }],
    egress: [...(peers.length ? [{ to: peers, ports: [port] }] : []), ...reaches.map((r) => ({ to: [{ pods: r.pods }], ports: [r.port] }))],
    dns: peers.length > 0 || reaches.length > 0,
  });
  return new k8s.networking.v1.NetworkPolicy(
    names.resourceName,
    { metadata: { name, namespace: c.namespace, labels: c.stackLabels }, spec },
    { ...opts, provider: c.provider, dependsOn: c.namespaceReady, ...formerlyNamed(name, names.resourceName) },
  );
}

/** Keeps enough members of a replicated database up through node drains. */
export function disruptionBudget(
  c: KubernetesContext,
  names: ObjectNames,
  selector: Record<string, string>,
  budget: { minAvailable: number } | { maxUnavailable: number },
  opts: pulumi.CustomResourceOptions,
): k8s.policy.v1.PodDisruptionBudget {
  const name = names.objectName;
  return new k8s.policy.v1.PodDisruptionBudget(
    names.resourceName,
    // A member that keeps crashing must not block a node drain.
    { metadata: { name, namespace: c.namespace, labels: c.stackLabels }, spec: { ...budget, selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: "AlwaysAllow" } },
    { ...opts, provider: c.provider, dependsOn: c.namespaceReady, ...formerlyNamed(name, names.resourceName) },
  );
}
