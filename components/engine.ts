// The one place a component learns where it runs. A component builds its ServerSpecs and calls
// placeServer; the engine's folder (docker/, kubernetes/) decides what resources that means.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { LOOPBACK } from "./config";
import { dockerServer, type DockerContext, type DockerServerArgs } from "./docker/container";
import { serverNetworkPolicy, type KubernetesContext, type ServerNetwork } from "./kubernetes/context";
import { kubernetesWorkload } from "./kubernetes/workload";
import { formerlyNamed } from "./names";
import type { KubernetesTarget, ServerAccess } from "../init/access";
import type { Endpoint, ServerSpec } from "./server-spec";
import { dockerCertificateNames, kubernetesCertificateNames, tlsKeyPairSecrets, tlsSecrets, type CertificateNames, type ServerTls } from "./tls";

export type Engine = { kind: "docker"; docker: DockerContext } | { kind: "kubernetes"; kubernetes: KubernetesContext };

export type { KubernetesTarget, ServerAccess };

export interface PlacedServer {
  /** What is up once the server is ready: hooks depend on it. */
  resource: pulumi.Resource;
  /** Changes when the server is replaced (or, on Kubernetes, its pods rolled): the hooks that follow re-run. */
  revision: pulumi.Output<string>;
  /** Docker container name, or Kubernetes object name. */
  name: string;
  /** Where other servers and the services reach it: the Docker network alias, or the Service's DNS name. */
  network: Endpoint;
  /** Where a process on the operator's machine reaches it: Docker publishes 127.0.0.1:hostPort; on Kubernetes a port-forward to that local port. */
  host: Endpoint;
  /** How the hooks reach it. */
  access: ServerAccess;
  /** Kubernetes: the labels its pods' selector matches. */
  selector?: Record<string, string>;
  /** Each pod of a set of identical members (Kubernetes `replicas`): its stable DNS name and hook access. One on Docker. */
  members: Array<{ network: Endpoint; access: ServerAccess }>;
}

export interface PlaceServerArgs {
  spec: ServerSpec;
  /** Values of the spec's secretFiles. */
  secrets: Record<string, pulumi.Input<string>>;
  /** Port on 127.0.0.1 of the operator's machine. */
  hostPort: number;
  /** Docker: the image resource's id, the resources' names (and those they had in earlier releases, if others), and Docker's own names. */
  docker?: Pick<DockerServerArgs, "image" | "resourceNames" | "formerResourceNames" | "containerName" | "volumeNames">;
  /**
   * Kubernetes: the base of its objects' resource names (`${component}-primary`), volume size,
   * extra pod labels, whether it is a stateless Deployment, and who it talks to (its NetworkPolicy).
   */
  kubernetes?: {
    resourceName: string;
    storageGb?: number;
    podLabels?: Record<string, string>;
    kind?: "StatefulSet" | "Deployment";
    replicas?: number;
    clientService?: boolean;
    network: ServerNetwork;
  };
  dependsOn?: pulumi.Resource[];
}

/**
 * The image a server runs: on Docker pulled once per component (a primary and its replicas share
 * it) and kept on the host; on Kubernetes the reference itself, pulled by the kubelet.
 */
export function serverImage(engine: Engine, resourceName: string, reference: string, parent: pulumi.Resource, formerName = resourceName): pulumi.Input<string> {
  if (engine.kind !== "docker") return reference;
  return new docker.RemoteImage(resourceName, { name: reference, keepLocally: true }, { parent, ...formerlyNamed(formerName, resourceName) }).imageId;
}

/** Kubernetes access to pod `pod` of the stack's namespace. */
export function kubernetesAccess(context: KubernetesContext, host: string, port: number, pod: string): ServerAccess {
  const { config } = context;
  return {
    host,
    port,
    kubernetes: { namespace: context.namespace, pod, ...(config.context ? { context: config.context } : {}), ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}) },
  };
}

export function placeServer(engine: Engine, args: PlaceServerArgs, parent: pulumi.Resource): PlacedServer {
  const { spec } = args;
  const host = { host: LOOPBACK, port: args.hostPort };
  if (engine.kind === "docker") {
    if (!args.docker) throw new Error(`${spec.service}: no Docker names given`);
    const container = dockerServer(
      { ...args.docker, spec, hostPort: args.hostPort, secrets: args.secrets, context: engine.docker },
      { parent, dependsOn: args.dependsOn },
    );
    const network = { host: spec.service, port: spec.port.number };
    return { resource: container, revision: container.id, name: args.docker.containerName, network, host, access: host, members: [{ network, access: host }] };
  }
  const context = engine.kubernetes;
  const k = args.kubernetes;
  if (!k) throw new Error(`${spec.service}: no Kubernetes names given`);
  const workload = kubernetesWorkload(
    {
      resourceName: k.resourceName,
      spec,
      secrets: args.secrets,
      context,
      storageGb: k.storageGb,
      podLabels: k.podLabels,
      kind: k.kind,
      replicas: k.replicas,
      clientService: k.clientService,
      dependsOn: args.dependsOn,
    },
    { parent },
  );
  // A database's policy keeps the name it had when it only admitted clients.
  const policySuffix = k.network.database ? "-clients" : "-network";
  serverNetworkPolicy(context, { resourceName: `${k.resourceName}${policySuffix}`, objectName: `${workload.name}${policySuffix}` }, workload.selector, spec.port.number, k.network, { parent });
  return {
    resource: workload.workload,
    revision: workload.revision,
    name: workload.name,
    network: workload.endpoint,
    host,
    access: kubernetesAccess(context, workload.endpoint.host, spec.port.number, workload.pods[0] ?? workload.name),
    selector: workload.selector,
    members: workload.pods.map((pod, i) => ({
      network: { host: workload.podHost(i), port: spec.port.number },
      access: kubernetesAccess(context, workload.podHost(i), spec.port.number, pod),
    })),
  };
}

/**
 * The names a server's certificate must hold where it runs: Docker's network aliases and container
 * name; Kubernetes' Service (and headless Service) names and each pod's name.
 */
export function serverCertificateNames(engine: Engine, server: { service: string; internalAlias?: string; container: string; replicas?: number }): CertificateNames {
  if (engine.kind === "docker") return dockerCertificateNames([server.service, ...(server.internalAlias ? [server.internalAlias] : [])], server.container);
  const { namespace, config, objectName } = engine.kubernetes;
  const name = objectName(server.service);
  const headless = `${name}-headless`;
  const pods = Array.from({ length: server.replicas ?? 1 }, (_, i) => `${name}-${i}.${headless}.${namespace}.svc.${config.clusterDomain}`);
  return kubernetesCertificateNames([name, headless], namespace, config.clusterDomain, pods);
}

/**
 * With `tls`: a server's secret files from the stack's CA, its certificate for every name it is
 * reached by (serverCertificateNames), as separate files, or certificate and key in one
 * (`keyPair`, as mongod reads them); nothing without.
 */
export function serverTlsSecrets(
  engine: Engine,
  tls: ServerTls | undefined,
  server: string,
  names: Parameters<typeof serverCertificateNames>[1],
  parent: pulumi.Resource,
  form: "separate" | "keyPair" = "separate",
): Record<string, pulumi.Input<string>> {
  if (!tls) return {};
  const certificate = tls.certificates.issue(server, serverCertificateNames(engine, names), parent);
  return form === "keyPair" ? tlsKeyPairSecrets(certificate) : tlsSecrets(certificate);
}

/** The port-forward target a hook takes; secret when it carries a kubeconfig's contents. */
export function kubernetesTarget(access: ServerAccess): pulumi.Output<KubernetesTarget> | undefined {
  if (!access.kubernetes) return undefined;
  return access.kubernetes.kubeconfig ? pulumi.secret(access.kubernetes) : pulumi.output(access.kubernetes);
}

/**
 * A hook's inputs for reaching one server: `host` and `port` (on Docker exactly the inputs hooks
 * always had, so an existing stack sees no change), plus on Kubernetes the pod to port-forward to.
 */
export function hookAccess(access: ServerAccess): { host: string; port: number; kubernetes?: pulumi.Output<KubernetesTarget> } {
  const target = kubernetesTarget(access);
  return { host: access.host, port: access.port, ...(target ? { kubernetes: target } : {}) };
}
