// The Kubernetes realisation of a ServerSpec: a StatefulSet (or, for the stateless admin tools, a
// Deployment) with its ConfigMap of files, its Secret of credentials, a headless Service for
// stable pod names and (but for the MongoDB members) a ClusterIP Service for clients. Nothing is exposed outside the cluster.
import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_START_SECONDS, type Endpoint, type ServerSpec } from "../server-spec";
import { formerlyNamed } from "../names";
import type { KubernetesContext } from "./context";

/** Liveness: how often, and how many misses in a row restart the container. */
export const LIVENESS_PERIOD_SECONDS = 20;
export const LIVENESS_FAILURES = 6;

export interface KubernetesWorkloadArgs {
  /** Base of its resources' Pulumi names, derived from the component's: `${component}-primary`. */
  resourceName: string;
  spec: ServerSpec;
  /** Values of the spec's secretFiles, by `secret`. */
  secrets: Record<string, pulumi.Input<string>>;
  /** Identical pods (MongoDB members); 1 for every other server. */
  replicas?: number;
  /** GiB per VolumeSpec; a Deployment (admin tools) keeps its volumes in emptyDirs instead. */
  storageGb?: number;
  kind?: "StatefulSet" | "Deployment";
  /** Extra labels on the pods, e.g. the group a read-only Service selects. */
  podLabels?: Record<string, string>;
  /**
   * A ClusterIP Service for clients (default). Off for the MongoDB members: one would round-robin
   * over primary and secondaries, and a driver finds the primary from the members' own names.
   */
  clientService?: boolean;
  context: KubernetesContext;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export interface KubernetesWorkload {
  workload: k8s.apps.v1.StatefulSet | k8s.apps.v1.Deployment;
  /** Object name: <prefix>-<service>. */
  name: string;
  /** Pod names, in order (StatefulSet only). */
  pods: string[];
  /** The ClusterIP Service's in-cluster address (without one, the headless Service's: every pod). */
  endpoint: Endpoint;
  /** Pod i's stable DNS name through the headless Service. */
  podHost(i: number): string;
  /** Changes whenever the pods are rolled or the workload is replaced: hooks that follow re-run. */
  revision: pulumi.Output<string>;
  /** The selector labels of its pods. */
  selector: Record<string, string>;
}

/** A ConfigMap/Secret key for a file path: /etc/x/pg_hba.conf -> etc-x-pg_hba.conf. */
export function fileKey(path: string): string {
  return path.replace(/^\/+/, "").replace(/[^A-Za-z0-9._-]/g, "-");
}

/** Shell command as an exec probe. */
function execProbe(command: string) {
  return { exec: { command: ["sh", "-c", command] } };
}

export function kubernetesWorkload(args: KubernetesWorkloadArgs, opts: pulumi.CustomResourceOptions): KubernetesWorkload {
  const { spec, context } = args;
  const objectName = context.objectName(spec.service);
  const headless = `${objectName}-headless`;
  const replicas = args.replicas ?? 1;
  const kind = args.kind ?? "StatefulSet";
  const selector = context.selectorLabels(spec.service);
  const labels = { ...context.labels(spec.service, spec.role), ...(args.podLabels ?? {}) };
  const child = { ...opts, provider: context.provider, dependsOn: context.namespaceReady };
  // Each object's resource: `${resourceName}<suffix>`. The first Kubernetes release named it after the object.
  const resource = (suffix: string) => `${args.resourceName}${suffix}`;
  const formerly = (suffix: string) => formerlyNamed(`${objectName}${suffix}`, resource(suffix));
  const metadata = (metadataName: string, objectLabels: Record<string, string> = labels) => ({ name: metadataName, namespace: context.namespace, labels: objectLabels });

  // Files (scripts, server config) in a ConfigMap, credentials in a Secret: mounted at the same paths as on Docker.
  const configMap = new k8s.core.v1.ConfigMap(
    resource("-files"),
    { metadata: metadata(`${objectName}-files`), data: Object.fromEntries(spec.files.map((f) => [fileKey(f.path), f.content])) },
    { ...child, ...formerly("-files") },
  );
  const secretData = pulumi.all(Object.fromEntries(spec.secretFiles.map((f) => [fileKey(f.path), secretValue(args.secrets, spec, f.credential)])));
  const secret = new k8s.core.v1.Secret(
    resource("-secrets"),
    { metadata: metadata(`${objectName}-secrets`), type: "Opaque", stringData: pulumi.secret(secretData) },
    { ...child, ...formerly("-secrets") },
  );
  // A hash of what the pods mount, in their template: a changed file or credential rolls the pods.
  // Credentials are hashed with a key only the stack state holds, so the annotation reveals nothing.
  const filesHash = sha256(JSON.stringify(spec.files));
  const secretsHash = pulumi.unsecret(
    pulumi.all([secretData, context.rolloutKey]).apply(([data, key]) => crypto.createHmac("sha256", key).update(JSON.stringify(data)).digest("hex")),
  );

  const volumes: k8s.types.input.core.v1.Volume[] = [
    { name: "files", configMap: { name: configMap.metadata.name, defaultMode: 0o444, items: spec.files.map((f) => ({ key: fileKey(f.path), path: fileKey(f.path), mode: f.executable ? 0o555 : 0o444 })) } },
    // Group-readable through fsGroup: a server that demands 0400 (mongod's keyfile) gets a copy from its wrapper.
    { name: "secrets", secret: { secretName: secret.metadata.name, defaultMode: 0o440 } },
    ...(spec.scratchPaths ?? []).map((_, i) => ({ name: `scratch-${i}`, emptyDir: {} })),
    ...(spec.shmSizeMb !== undefined ? [{ name: "shm", emptyDir: { medium: "Memory", sizeLimit: `${spec.shmSizeMb}Mi` } }] : []),
    ...(kind === "Deployment" ? spec.volumes.map((v) => ({ name: v.key, emptyDir: {} })) : []),
  ];
  const volumeMounts: k8s.types.input.core.v1.VolumeMount[] = [
    ...spec.volumes.map((v) => ({ name: v.key, mountPath: v.path })),
    ...spec.files.map((f) => ({ name: "files", mountPath: f.path, subPath: fileKey(f.path), readOnly: true })),
    ...spec.secretFiles.map((f) => ({ name: "secrets", mountPath: f.path, subPath: fileKey(f.path), readOnly: true })),
    ...(spec.scratchPaths ?? []).map((path, i) => ({ name: `scratch-${i}`, mountPath: path })),
    ...(spec.shmSizeMb !== undefined ? [{ name: "shm", mountPath: "/dev/shm" }] : []),
  ];
  const resources = { memory: `${spec.resources.memoryMb}Mi`, cpu: spec.resources.cpus };
  const startPeriodSeconds = 5;
  const serving = spec.serving ?? spec.ready;
  const alive = spec.alive ?? spec.ready;
  const container: k8s.types.input.core.v1.Container = {
    name: spec.service,
    image: spec.image,
    ...(spec.entrypoint ? { command: spec.entrypoint } : {}),
    ...(spec.command ? { args: spec.command } : {}),
    env: Object.entries(spec.env).map(([envName, value]) => ({ name: envName, value })),
    ports: [{ name: spec.port.name, containerPort: spec.port.number, protocol: "TCP" }],
    // Requests equal limits: a database is never the first to be evicted or throttled below its share.
    resources: { requests: resources, limits: resources },
    // Up: the same check as Docker's healthcheck, for as long as a start may take (crash recovery,
    // a replica's base backup); liveness counts only after it.
    startupProbe: { ...execProbe(spec.ready.command), periodSeconds: startPeriodSeconds, timeoutSeconds: spec.ready.timeoutSeconds, failureThreshold: Math.ceil((spec.startSeconds ?? DEFAULT_START_SECONDS) / startPeriodSeconds) },
    readinessProbe: { ...execProbe(serving.command), periodSeconds: 10, timeoutSeconds: serving.timeoutSeconds, failureThreshold: 3 },
    // Alive while the server answers a request (a TCP probe passes on a wedged server: the kernel
    // completes the handshake). Restarting a database costs a crash recovery, so only two minutes
    // without an answer (6 x 20 s) count, well past a checkpoint's or a long query's pause.
    livenessProbe: { ...execProbe(alive.command), periodSeconds: LIVENESS_PERIOD_SECONDS, timeoutSeconds: alive.timeoutSeconds, failureThreshold: LIVENESS_FAILURES },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: spec.user.uid,
      runAsGroup: spec.user.gid,
      // A binary with file capabilities runs when they are in the bounding set; no process gains them.
      allowPrivilegeEscalation: false,
      // Every path the image writes is a volume or a scratch emptyDir (ServerSpec.scratchPaths).
      readOnlyRootFilesystem: spec.writesToRoot === undefined,
      capabilities: { drop: ["ALL"], ...(spec.fileCapabilities ? { add: spec.fileCapabilities } : {}) },
    },
    volumeMounts,
  };
  const podTemplate: k8s.types.input.core.v1.PodTemplateSpec = {
    metadata: {
      labels,
      annotations: { "trading-db-stack/files-hash": filesHash, "trading-db-stack/secrets-hash": secretsHash },
    },
    spec: {
      // Databases need no API access, and the cluster's service variables would only add noise.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: spec.stopGraceSeconds,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: spec.user.uid,
        runAsGroup: spec.user.gid,
        fsGroup: spec.user.gid,
        fsGroupChangePolicy: "OnRootMismatch",
        seccompProfile: { type: "RuntimeDefault" },
      },
      // Spread copies of one server, and the servers of one kind (replicas of a primary), across nodes.
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: context.kindLabels(spec.service) } } }],
        },
      },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } }],
      containers: [container],
      volumes,
    },
  };

  const headlessService = new k8s.core.v1.Service(
    resource("-headless"),
    {
      metadata: metadata(headless),
      // Members must find each other by name before they are ready (a replica set forms only then).
      spec: { clusterIP: "None", publishNotReadyAddresses: true, selector, ports: [{ name: spec.port.name, port: spec.port.number, targetPort: spec.port.name }] },
    },
    { ...child, ...formerly("-headless") },
  );
  const clientService = args.clientService ?? true;
  if (clientService) {
    new k8s.core.v1.Service(
      // The object is named like the workload; its resource takes a suffix (two resources, one name each).
      resource("-service"),
      { metadata: clientServiceMetadata(metadata(objectName)), spec: { type: "ClusterIP", selector, ports: [{ name: spec.port.name, port: spec.port.number, targetPort: spec.port.name }] } },
      { ...child, ...formerly("-service") },
    );
  }

  const dependsOn = [...context.namespaceReady, configMap, secret, headlessService, ...(args.dependsOn ?? [])];
  // Fixed names: an immutable change (selector, volume templates) must delete the old object first.
  // Ready within waitTimeoutSeconds, as a Docker container must be healthy within it.
  const wait = `${context.waitTimeoutSeconds}s`;
  const workloadOptions: pulumi.CustomResourceOptions = { ...child, ...formerly(""), deleteBeforeReplace: true, dependsOn, customTimeouts: { create: wait, update: wait } };
  const retain = context.retainData ? "Retain" : "Delete";
  const workload =
    kind === "StatefulSet"
      ? new k8s.apps.v1.StatefulSet(
          resource(""),
          {
            metadata: metadata(objectName),
            spec: {
              replicas,
              serviceName: headless,
              selector: { matchLabels: selector },
              // Members start together: the replica set is formed by the hook once all answer. Fixed
              // for every set: a change of this field replaces the StatefulSet.
              podManagementPolicy: "Parallel",
              updateStrategy: { type: "RollingUpdate" },
              persistentVolumeClaimRetentionPolicy: { whenDeleted: retain, whenScaled: retain },
              volumeClaimTemplates: spec.volumes.map((v) => ({
                metadata: { name: v.key, labels: selector },
                spec: {
                  accessModes: ["ReadWriteOnce"],
                  ...(context.storageClass ? { storageClassName: context.storageClass } : {}),
                  resources: { requests: { storage: `${v.sizeGb ?? args.storageGb ?? 1}Gi` } },
                },
              })),
              template: podTemplate,
            },
          },
          workloadOptions,
        )
      : new k8s.apps.v1.Deployment(
          resource(""),
          { metadata: metadata(objectName), spec: { replicas, selector: { matchLabels: selector }, strategy: { type: "Recreate" }, template: podTemplate } },
          workloadOptions,
        );

  const domain = `${context.namespace}.svc.${context.config.clusterDomain}`;
  return {
    workload,
    name: objectName,
    pods: kind === "StatefulSet" ? Array.from({ length: replicas }, (_, i) => `${objectName}-${i}`) : [],
    endpoint: { host: `${clientService ? objectName : headless}.${domain}`, port: spec.port.number },
    podHost: (i) => `${objectName}-${i}.${headless}.${domain}`,
    revision: pulumi.interpolate`${workload.metadata.uid}/${sha256(filesHash)}/${secretsHash}`,
    selector,
  };
}

/** A ClusterIP Service over a group of servers' pods (the PostgreSQL replicas): <prefix>-<service>; its resource `resourceName`. */
export function groupService(
  context: KubernetesContext,
  resourceName: string,
  service: string,
  groupLabels: Record<string, string>,
  port: { name: string; number: number },
  opts: pulumi.CustomResourceOptions,
): { service: k8s.core.v1.Service; endpoint: Endpoint } {
  const name = context.objectName(service);
  const object = new k8s.core.v1.Service(
    resourceName,
    {
      metadata: clientServiceMetadata({ name, namespace: context.namespace, labels: context.stackLabels }),
      spec: { type: "ClusterIP", selector: { ...context.stackLabels, ...groupLabels }, ports: [{ name: port.name, port: port.number, targetPort: port.name }] },
    },
    { ...opts, provider: context.provider, dependsOn: context.namespaceReady, ...formerlyNamed(name, resourceName) },
  );
  return { service: object, endpoint: { host: `${name}.${context.namespace}.svc.${context.config.clusterDomain}`, port: port.number } };
}

/**
 * A client Service is created before its pods are ready (the read-only one before the replicas
 * have taken their base backups): Pulumi is not to wait for its endpoints (10 minutes at most).
 * The workloads' own readiness is what `pulumi up` waits for.
 */
function clientServiceMetadata<T extends object>(metadata: T): T & { annotations: Record<string, string> } {
  return { ...metadata, annotations: { "pulumi.com/skipAwait": "true" } };
}

function secretValue(secrets: Record<string, pulumi.Input<string>>, spec: ServerSpec, key: string): pulumi.Input<string> {
  const value = secrets[key];
  if (value === undefined) throw new Error(`${spec.service}: no value for secret file ${key}`);
  return value;
}

function sha256(text: string): string {
  return crypto.createHash("sha256").update(text).digest("hex");
}
