// A Secret per consumer service holding its env map (the in-cluster one), so a Deployment takes
// every variable with `envFrom: [{ secretRef: { name } }]`, as CloudNativePG's app Secret is used.
// Each is made in its consumer's own namespace: a pod in the databases' namespace could mount the
// stack's Secrets, so no consumer needs to run there. With `tls`, a ConfigMap beside each holds
// the stack's CA certificate (ca.crt), for the pods to mount where the URIs name it (tlsCaFile).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CONSUMERS, type ServiceEnv } from "../service-env";
import { formerlyNamed } from "../names";
import type { KubernetesContext } from "./context";

/**
 * Creates them (resources `${stackName}-<consumer>-env`, and with a CA `${stackName}-ca-<namespace>`);
 * returns each consumer's Secret, by namespace and name.
 */
export function consumerSecrets(
  context: KubernetesContext,
  serviceEnv: pulumi.Output<ServiceEnv>,
  stackName: string,
  parent: pulumi.Resource,
  caCertificate?: pulumi.Output<string>,
): Record<string, { namespace: string; name: string }> {
  const names: Record<string, { namespace: string; name: string }> = {};
  // One CA ConfigMap per namespace: two consumers may share one.
  const namespaces = new Map(CONSUMERS.map((c) => [context.config.consumerNamespaces[c], c]));
  for (const [namespace, consumer] of caCertificate ? namespaces : []) {
    new k8s.core.v1.ConfigMap(
      `${stackName}-ca-${namespace}`,
      { metadata: { name: context.objectName("ca"), namespace, labels: context.stackLabels }, data: { "ca.crt": caCertificate! } },
      { parent, provider: context.provider, dependsOn: [...context.namespaceReady, ...context.consumerNamespaceReady[consumer]] },
    );
  }
  for (const consumer of CONSUMERS) {
    const name = context.objectName(`${consumer}-env`);
    const resourceName = `${stackName}-${consumer}-env`;
    new k8s.core.v1.Secret(
      resourceName,
      {
        metadata: { name, namespace: context.config.consumerNamespaces[consumer], labels: { ...context.stackLabels, "trading-db-stack/consumer": consumer } },
        type: "Opaque",
        stringData: pulumi.secret(serviceEnv.apply((env) => env.inNetwork[consumer])),
      },
      { parent, provider: context.provider, dependsOn: [...context.namespaceReady, ...context.consumerNamespaceReady[consumer]], ...formerlyNamed(name, resourceName) },
    );
    names[consumer] = { namespace: context.config.consumerNamespaces[consumer], name };
  }
  return names;
}
