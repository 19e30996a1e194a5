// PostgreSQL on Kubernetes: one CloudNativePG `Cluster` (postgresql.cnpg.io/v1). The operator, a
// cluster prerequisite installed once per cluster, runs the instances: failover to the most
// advanced replica, switchover before a node drain, replicas updated one at a time and the
// primary last, passwords changed in place from their Secrets, in-place major upgrades.
//
// The manifests are built by pure functions (tested against the operator's CRDs); cloudNativePg()
// declares them: the roles' basic-auth Secrets, the Cluster, a Database per stack database, and the
// NetworkPolicy of the instance pods. The stack's own hooks then apply migrations and seeds as each
// database's owner, on whichever pod is primary when they run.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PostgresConfig } from "../config";
import { POSTGRES_CONTAINER_PORT, POSTGRES_DATABASES, POSTGRES_ROLES, serverSettings } from "../postgres-spec";
import type { Endpoint } from "../server-spec";
import { PART_OF, type KubernetesContext } from "./context";
import { PGADMIN_SERVICE } from "../admin-tools-spec";
import { consumerPeers, serverPolicySpec, type PolicyPeer } from "./network-policy";
import { kubernetesCertificateNames, type StackCertificates } from "../tls";

export const CNPG_API_VERSION = "postgresql.cnpg.io/v1";
/** The operator release this stack is built and tested against (../shared/contracts/cloudnative-pg). */
export const CNPG_RELEASE = "1.29.2";
export const CNPG_INSTALL_COMMAND = `kubectl apply --server-side -f https://raw.githubusercontent.com/cloudnative-pg/cloudnative-pg/release-1.29/releases/cnpg-${CNPG_RELEASE}.yaml`;
/** Label of the operator's own pods (its release manifest and Helm chart). */
export const CNPG_OPERATOR_POD_LABELS = { "app.kubernetes.io/name": "cloudnative-pg" };
/** The instance manager's HTTPS port: the operator's and the instances' own status calls. */
export const CNPG_STATUS_PORT = 8000;

/** The labels the operator puts on an instance pod: of the cluster, and of its role in it. */
export function instanceLabels(cluster: string, role?: "primary" | "replica"): Record<string, string> {
  return { "cnpg.io/cluster": cluster, ...(role ? { "cnpg.io/instanceRole": role } : {}) };
}

/** A label selector as the API takes it: k=v,k=v. */
export function selectorText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** The operator's Services: -rw on the primary, -ro on the replicas, -r on any instance. */
export function clusterServices(cluster: string, namespace: string, clusterDomain: string): { rw: Endpoint; ro: Endpoint; r: Endpoint } {
  const at = (suffix: string) => ({ host: `${cluster}-${suffix}.${namespace}.svc.${clusterDomain}`, port: POSTGRES_CONTAINER_PORT });
  return { rw: at("rw"), ro: at("ro"), r: at("r") };
}

/** A role the operator manages: login with the password of its basic-auth Secret. */
export interface ManagedRole {
  name: string;
  /** The Secret holding its username and password. */
  secretName: string;
  inRoles: string[];
}

/** The stack's login roles: each database's owner and service role, the read-only role, the monitoring role. */
export function managedRoles(cluster: string): ManagedRole[] {
  const secret = (role: string) => `${cluster}-${role.replace(/_/g, "-")}`;
  return [
    ...POSTGRES_DATABASES.map((db) => ({ name: db.owner, secretName: secret(db.owner), inRoles: [] })),
    ...POSTGRES_DATABASES.map((db) => ({ name: db.service, secretName: secret(db.service), inRoles: [] })),
    { name: POSTGRES_ROLES.readonly, secretName: secret(POSTGRES_ROLES.readonly), inRoles: [] },
    // npm run verify reads pg_stat_replication, whose details only pg_monitor's members see.
    { name: POSTGRES_ROLES.monitor, secretName: secret(POSTGRES_ROLES.monitor), inRoles: ["pg_monitor"] },
  ];
}

/** Settings the operator sets itself, or refuses in `postgresql.parameters` (CloudNativePG's fixed parameters). */
const OPERATOR_SETTINGS = ["hba_file", "listen_addresses", "hot_standby", "port"];

/** The server settings Docker gets, as the operator takes them: strings, without those it owns. */
export function clusterParameters(pg: PostgresConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(serverSettings(pg)).filter(([name]) => !OPERATOR_SETTINGS.includes(name)));
}

/**
 * pg_hba rules, placed by the operator after its own (local peer for postgres, TLS certificates
 * for streaming_replica) and before its catch-all `host all all all scram-sha-256`: nobody else
 * replicates, the superuser never logs in over the network (it has no password either), and the
 * databases' owners only through a port-forward, which arrives on the pod's loopback (the hooks,
 * operators): a pod with an owner's password still cannot log in as it. With `tls`, a network
 * connection without TLS is refused first.
 */
export function clusterHbaRules(tls = false): string[] {
  const owners = POSTGRES_DATABASES.map((db) => db.owner).join(",");
  return [
    // (Replication needs no such line: the next rejects all of it but the operator's own, above.)
    ...(tls ? ["hostnossl all all all reject"] : []),
    `host replication all all reject`,
    `host all ${POSTGRES_ROLES.superuser} all reject`,
    `host all ${owners} 127.0.0.1/32 scram-sha-256`,
    `host all ${owners} ::1/128 scram-sha-256`,
    `host all ${owners} all reject`,
  ];
}

export interface ClusterSpecArgs {
  pg: PostgresConfig;
  cluster: string;
  storageClass: string | undefined;
  /** Labels the operator copies to every object it makes (pods, claims, Services). */
  labels: Record<string, string>;
  /** With `tls`: the Secrets of the stack's CA and of the server's certificate, in place of the operator's own. */
  tls?: { serverCASecret: string; serverTLSSecret: string };
}

/** The database initdb makes (the first of the stack's), owned by its owner. */
const BOOTSTRAP_DATABASE = POSTGRES_DATABASES[0];

/** The Cluster's spec. Every choice is one the operator documents; the reasons are beside each. */
export function clusterSpec({ pg, cluster, storageClass, labels, tls }: ClusterSpecArgs): Record<string, unknown> {
  const memory = `${pg.memoryMb}Mi`;
  const owner = managedRoles(cluster).find((r) => r.name === BOOTSTRAP_DATABASE.owner)!;
  return {
    instances: 1 + pg.replicas,
    imageName: pg.operandImage,
    // Requests equal limits (Guaranteed QoS): never the first evicted or throttled.
    resources: { requests: { memory, cpu: pg.cpus }, limits: { memory, cpu: pg.cpus } },
    storage: { size: `${pg.storageGb}Gi`, ...(storageClass ? { storageClass } : {}), resizeInUseVolumes: true },
    // Instances on different nodes where the cluster has them (required would leave pods Pending on a small one).
    affinity: { enablePodAntiAffinity: true, podAntiAffinityType: "preferred", topologyKey: "kubernetes.io/hostname" },
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: instanceLabels(cluster) } }],
    inheritedMetadata: { labels },
    postgresql: { parameters: clusterParameters(pg), pg_hba: clusterHbaRules(tls !== undefined) },
    // The server's certificate from the stack's CA, which every client verifies (replication keeps
    // the operator's own client certificates).
    ...(tls ? { certificates: { serverCASecret: tls.serverCASecret, serverTLSSecret: tls.serverTLSSecret } } : {}),
    // One slot per replica on the primary, and the slots kept on the replicas too, so a promoted
    // replica has them: the operator's, instead of the stack's own slot hooks.
    replicationSlots: { highAvailability: { enabled: true }, updateInterval: 30 },
    // A replica serves reads (is ready, behind -ro) only while it streams within the lag (WAL it
    // received but has not replayed yet); one that fell behind or lost its slot leaves the Service
    // instead of serving stale reads. Only after two minutes: the operator promotes only a ready
    // replica, and when the primary's node dies its pod stays ready for 40-55 s while the replicas
    // stop streaming at once; a shorter threshold would leave no replica to promote.
    probes: { readiness: { type: "streaming", maximumLag: `${pg.replicaMaxLagMb}Mi`, periodSeconds: 10, failureThreshold: 12 } },
    // Crash recovery of a large cluster may take an hour before the instance is started.
    startDelay: 3600,
    // Fail over as soon as the primary is unhealthy: the readiness and liveness thresholds already
    // wait out a blip, and every second of delay is a second without writes.
    failoverDelay: 0,
    // Rolling updates finish by themselves: replicas one at a time, then the primary, switched
    // over to the most advanced (already updated) replica, so writes stop for seconds, not for a
    // pod's re-creation. (The operator then refuses an image change and a setting change in one
    // update: make them in two.) Without replicas there is no one to switch to: restarted.
    primaryUpdateStrategy: "unsupervised",
    primaryUpdateMethod: pg.replicas > 0 ? "switchover" : "restart",
    // The superuser stays off the network: the hooks log in as each database's owner.
    enableSuperuserAccess: false,
    // A budget on a lone primary would block every node drain.
    enablePDB: pg.replicas > 0,
    bootstrap: {
      initdb: { database: BOOTSTRAP_DATABASE.name, owner: BOOTSTRAP_DATABASE.owner, secret: { name: owner.secretName }, encoding: "UTF8", dataChecksums: true },
    },
    managed: {
      roles: managedRoles(cluster).map((r) => ({
        name: r.name,
        ensure: "present",
        login: true,
        inherit: true,
        connectionLimit: -1,
        inRoles: r.inRoles,
        passwordSecret: { name: r.secretName },
      })),
    },
  };
}

/** A stack database as the operator's Database object: created when missing, kept when the object goes. */
export function databaseSpec(cluster: string, db: { name: string; owner: string }): Record<string, unknown> {
  return { cluster: { name: cluster }, name: db.name, owner: db.owner, ensure: "present", databaseReclaimPolicy: "retain", encoding: "UTF8" };
}

export interface CloudNativePgArgs {
  pg: PostgresConfig;
  /** Password per managed role name. */
  passwords: Record<string, pulumi.Input<string>>;
  /** Pulumi names derive from it: `${component}-cluster`, `${component}-<role>-secret`. */
  resourceName: string;
  context: KubernetesContext;
  /** pgAdmin runs: its pods may connect. */
  adminTools: boolean;
  /** With `tls`: the stack's CA issues the server's certificate. */
  certificates?: StackCertificates;
}

export interface CloudNativePg {
  cluster: k8s.apiextensions.CustomResource;
  databases: k8s.apiextensions.CustomResource[];
  /** The Cluster's name: the base of its pods' (<name>-<serial>) and Services' names. */
  name: string;
  services: { rw: Endpoint; ro: Endpoint; r: Endpoint };
  /** What `pulumi up` waits for before the hooks: the Cluster healthy, every database applied. */
  ready: pulumi.Resource[];
  /** Changes when the Cluster is made anew (the hooks then check the new data again). */
  revision: pulumi.Output<string>;
}

/** Declares the Cluster and what goes with it. */
export function cloudNativePg(args: CloudNativePgArgs, opts: pulumi.ComponentResourceOptions & { parent: pulumi.Resource }): CloudNativePg {
  const { context, pg } = args;
  const name = context.objectName("postgres");
  // Only labels of the stack's own keys: the operator sets app.kubernetes.io/name and instance itself.
  const labels = { "app.kubernetes.io/part-of": PART_OF, "trading-db-stack/kind": "postgres" };
  const child = { parent: opts.parent, provider: context.provider, dependsOn: context.namespaceReady };
  const wait = `${context.waitTimeoutSeconds}s`;

  const secrets = managedRoles(name).map((role) => {
    const password = args.passwords[role.name];
    if (password === undefined) throw new Error(`no password for the PostgreSQL role ${role.name}`);
    return new k8s.core.v1.Secret(
      `${args.resourceName}-${role.name.replace(/_/g, "-")}-secret`,
      {
        // The operator reads a role's password from it, and applies a new one in place (no restart).
        metadata: { name: role.secretName, namespace: context.namespace, labels: { ...context.stackLabels, "cnpg.io/reload": "true" } },
        type: "kubernetes.io/basic-auth",
        stringData: { username: role.name, password },
      },
      child,
    );
  });

  // With tls: the server's certificate for every name of the operator's Services, and the CA, as
  // the Secrets the operator takes (it reloads them when they change: a renewal restarts nothing).
  // Kept with the Cluster by a destroy with retainData (the kept instances still name them), and
  // taken over by the next stack, which writes its own certificate into them.
  const kept = { ...child, provider: context.adoptingProvider, retainOnDelete: context.retainData };
  const tls = args.certificates
    ? (() => {
        const names = kubernetesCertificateNames([`${name}-rw`, `${name}-ro`, `${name}-r`], context.namespace, context.config.clusterDomain);
        const certificate = args.certificates.issue("postgres", names, opts.parent);
        const reload = { ...context.stackLabels, "cnpg.io/reload": "true" };
        const server = new k8s.core.v1.Secret(
          `${args.resourceName}-server-tls-secret`,
          { metadata: { name: `${name}-server-tls`, namespace: context.namespace, labels: reload }, type: "kubernetes.io/tls", stringData: pulumi.secret(pulumi.all([certificate.certificate, certificate.key]).apply(([crt, key]) => ({ "tls.crt": crt, "tls.key": key }))) },
          kept,
        );
        const ca = new k8s.core.v1.Secret(
          `${args.resourceName}-server-ca-secret`,
          { metadata: { name: `${name}-server-ca`, namespace: context.namespace, labels: reload }, type: "Opaque", stringData: pulumi.secret(certificate.ca.apply((crt) => ({ "ca.crt": crt }))) },
          kept,
        );
        return { secrets: [server, ca], spec: { serverCASecret: `${name}-server-ca`, serverTLSSecret: `${name}-server-tls` } };
      })()
    : undefined;

  // retainData: CloudNativePG deletes a Cluster's volume claims with it, so a destroy that keeps
  // the data leaves the Cluster itself running in the kept namespace, and the next `up` takes it over.
  const cluster = new k8s.apiextensions.CustomResource(
    `${args.resourceName}-cluster`,
    {
      apiVersion: CNPG_API_VERSION,
      kind: "Cluster",
      metadata: {
        name,
        namespace: context.namespace,
        labels: context.stackLabels,
        annotations: {
          // Ready once the operator says so and every instance is: the Ready condition alone carries no
          // generation, so after a change (more instances) it would still say Ready from before.
          "pulumi.com/waitFor": JSON.stringify(["condition=Ready", `jsonpath={.status.readyInstances}=${1 + pg.replicas}`]),
          // A stack that takes over a Cluster a destroy kept is another field manager: it owns the spec all the same.
          "pulumi.com/patchForce": "true",
        },
      },
      spec: clusterSpec({ pg, cluster: name, storageClass: context.storageClass, labels, ...(tls ? { tls: tls.spec } : {}) }),
    },
    {
      ...child,
      provider: context.adoptingProvider,
      retainOnDelete: context.retainData,
      dependsOn: [...context.namespaceReady, ...secrets, ...(tls?.secrets ?? [])],
      customTimeouts: { create: wait, update: wait },
    },
  );
  const databases = POSTGRES_DATABASES.map(
    (db) =>
      new k8s.apiextensions.CustomResource(
        `${args.resourceName}-${db.name.replace(/_/g, "-")}-database`,
        {
          apiVersion: CNPG_API_VERSION,
          kind: "Database",
          metadata: {
            name: `${name}-${db.name.replace(/_/g, "-")}`,
            namespace: context.namespace,
            labels: context.stackLabels,
            annotations: { "pulumi.com/waitFor": "jsonpath={.status.applied}=true" },
          },
          spec: databaseSpec(name, db),
        },
        { ...child, dependsOn: [cluster], customTimeouts: { create: wait, update: wait } },
      ),
  );

  // The instances: PostgreSQL from the consumers and pgAdmin; replication and the status port
  // among themselves (the operator's join and recovery Jobs carry the cluster label too); the
  // operator on both. From them: each other, DNS, and the API server the instance manager watches.
  const instances: PolicyPeer = { pods: instanceLabels(name) };
  const operator: PolicyPeer = { namespace: context.config.operatorNamespace, pods: CNPG_OPERATOR_POD_LABELS };
  const spec = serverPolicySpec(instanceLabels(name), {
    ingress: [
      { from: [...consumerPeers(context.config, "postgres"), ...(args.adminTools ? [{ pods: context.selectorLabels(PGADMIN_SERVICE) }] : [])], ports: [POSTGRES_CONTAINER_PORT] },
      { from: [instances, operator], ports: [POSTGRES_CONTAINER_PORT, CNPG_STATUS_PORT] },
    ],
    egress: [{ to: [instances], ports: [POSTGRES_CONTAINER_PORT, CNPG_STATUS_PORT] }],
    dns: true,
    apiServer: { cidrs: context.config.apiServerCidrs },
  });
  // Kept with the Cluster by a destroy with retainData: the instances still run, and stay closed.
  new k8s.networking.v1.NetworkPolicy(
    `${args.resourceName}-instances`,
    { metadata: { name: `${name}-instances`, namespace: context.namespace, labels: context.stackLabels }, spec },
    { ...child, provider: context.adoptingProvider, retainOnDelete: context.retainData },
  );

  return {
    cluster,
    databases,
    name,
    services: clusterServices(name, context.namespace, context.config.clusterDomain),
    ready: [cluster, ...databases],
    revision: cluster.metadata.uid,
  };
}
