// Before anything of PostgreSQL on Kubernetes is made: the CloudNativePG operator is installed
// (a cluster prerequisite) and new enough, and no PostgreSQL of an earlier release of the stack
// (its own StatefulSets) holds the data a new Cluster would start without. A dynamic resource
// whose `check` asks the API server: Pulumi runs `check` in every preview and update, before any
// resource is created or changed, so a problem stops `pulumi up` at once, saying what to do.
// Runs inside the serialised dynamic provider (see init/hook.ts).
import type * as pulumi from "@pulumi/pulumi";
import { targetKubeconfig } from "../access";

export interface OperatorCheckInputs extends Record<string, unknown> {
  /** The stack's namespace, and how to reach the cluster. */
  kubernetes: { namespace: string; context?: string; kubeconfig?: string };
  /** The Cluster CRD's name: clusters.postgresql.cnpg.io. */
  crd: string;
  /** A field of the CRD's schema the stack needs (a dotted path below spec), with the release that added it. */
  needs: { path: string; since: string };
  release: string;
  installCommand: string;
  /** The primary StatefulSet an earlier release made: its data is not moved by itself. */
  formerStatefulSet: string;
}

/** What stops the up, each said in full; [] when all is well. */
export async function operatorProblems(inputs: OperatorCheckInputs): Promise<string[]> {
  const k8s = await import("@kubernetes/client-node");
  const { namespace } = inputs.kubernetes;
  const kc = await targetKubeconfig(inputs.kubernetes, `the CloudNativePG check in namespace ${namespace}`);
  const server = kc.getCurrentCluster()!.server;
  const status = (error: unknown) => Number((error as { code?: unknown }).code ?? 0);
  const problems: string[] = [];

  try {
    const crd = await kc.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name: inputs.crd });
    const version = crd.spec.versions.find((v) => v.name === "v1");
    let schema = version?.schema?.openAPIV3Schema as { properties?: Record<string, unknown> } | undefined;
    for (const key of ["spec", ...inputs.needs.path.split(".")]) schema = schema?.properties?.[key] as typeof schema;
    if (!schema) {
      problems.push(
        `the CloudNativePG operator in the cluster at ${server} is older than ${inputs.needs.since} (its Cluster has no spec.${inputs.needs.path}); this stack needs ${inputs.release}: upgrade it with \`${inputs.installCommand}\`, then \`pulumi up\` again`,
      );
    }
  } catch (error) {
    if (status(error) === 404) {
      problems.push(
        `CloudNativePG is not installed in the cluster at ${server} (no CustomResourceDefinition ${inputs.crd}): PostgreSQL runs as its Cluster; install the operator once per cluster with \`${inputs.installCommand}\`, wait for \`kubectl rollout status deployment -n cnpg-system cnpg-controller-manager\`, then \`pulumi up\` again`,
      );
    } else if (status(error) !== 403) {
      // 403: the user may not read CRDs (cluster-scoped); the Cluster's creation says more if the operator is missing.
      problems.push(`cannot check for CloudNativePG at ${server}: ${(error as Error).message}`);
    }
  }

  try {
    await kc.makeApiClient(k8s.AppsV1Api).readNamespacedStatefulSet({ name: inputs.formerStatefulSet, namespace });
    problems.push(
      `namespace ${namespace} holds the PostgreSQL StatefulSet ${inputs.formerStatefulSet} of an earlier release of this stack; this release runs PostgreSQL as a CloudNativePG Cluster, which would start empty beside it, and the up would then delete that StatefulSet. Move the data first (README, "Moving PostgreSQL to CloudNativePG"): nothing was changed`,
    );
  } catch (error) {
    if (status(error) !== 404) problems.push(`cannot check namespace ${namespace} for an earlier PostgreSQL StatefulSet ${inputs.formerStatefulSet} at ${server}: ${(error as Error).message}`);
  }
  return problems;
}

export const operatorCheckProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: OperatorCheckInputs, news: OperatorCheckInputs) {
    const problems = await operatorProblems(news);
    return { inputs: news, failures: problems.map((reason) => ({ property: "kubernetes", reason })) };
  },
  async create(inputs: OperatorCheckInputs) {
    return { id: `cloudnative-pg-${inputs.kubernetes.namespace}`, outs: inputs };
  },
  async diff(_id: string, olds: OperatorCheckInputs, news: OperatorCheckInputs) {
    return { changes: JSON.stringify(olds) !== JSON.stringify(news) };
  },
  async update(_id: string, _olds: OperatorCheckInputs, news: OperatorCheckInputs) {
    return { outs: news };
  },
};
