// A Secret per consumer service holding its env map (the in-cluster one), so a Deployment takes
// every variable with `envFrom: [{ secretRef: { name } }]`, as CloudNativePG's app Secret is used.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CONSUMERS, type ServiceEnv } from "../service-env";
import { formerlyNamed } from "../names";
import type { KubernetesContext } from "./context";

/** Creates them (resources `${stackName}-<consumer>-env`); returns each consumer's Secret name. */
export function consumerSecrets(context: KubernetesContext, serviceEnv: pulumi.Output<ServiceEnv>, stackName: string, parent: pulumi.Resource): Record<string, string> {
  const names: Record<string, string> = {};
  for (const consumer of CONSUMERS) {
    const name = context.objectName(`${consumer}-env`);
    const resourceName = `${stackName}-${consumer}-env`;
    new k8s.core.v1.Secret(
      resourceName,
      {
        metadata: { name, namespace: context.namespace, labels: { ...context.stackLabels, "trading-db-stack/consumer": consumer } },
        type: "Opaque",
        stringData: pulumi.secret(serviceEnv.apply((env) => env.inNetwork[consumer])),
      },
      { parent, provider: context.provider, dependsOn: context.namespaceReady, ...formerlyNamed(name, resourceName) },
    );
    names[consumer] = name;
  }
  return names;
}
