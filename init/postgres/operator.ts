// Before anything of the stack is made in the namespace: the CloudNativePG operator is installed
// (a cluster prerequisite) at a release without known vulnerabilities, and no PostgreSQL of an
// earlier release of the stack (its own StatefulSets, its -ro Service) is in the way. A dynamic
// resource whose `check` asks the API server: Pulumi runs `check` in every preview and update, and
// every Kubernetes object of the stack waits for it, so a problem stops `pulumi up` before any of
// them is created or changed, saying what to do.
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
  /** Where the operator runs, and its pods' label (its Deployment's image names its release). */
  operator: { namespace: string; labels: string };
  /** The primary StatefulSet an earlier release made: its data is not moved by itself. */
  formerStatefulSet: string;
  /** The read-only Service an earlier release made, which the operator's `-ro` would have to replace. */
  formerService: string;
}

/** "1.29.2" < "1.29.10": numerically, part by part. */
function olderThan(version: string, floor: string): boolean {
  const [a, b] = [version, floor].map((v) => v.split(".").map(Number));
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
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
        `CloudNativePG is not installed in the cluster at ${server} (no CustomResourceDefinition ${inputs.crd}): PostgreSQL runs as its Cluster; install the operator once per cluster with \`${inputs.installCommand}\`, wait until its Deployment in namespace ${inputs.operator.namespace} is ready (\`kubectl -n ${inputs.operator.namespace} get deploy -l ${inputs.operator.labels}\`), then \`pulumi up\` again`,
      );
    } else if (status(error) !== 403) {
      // 403: the user may not read CRDs (cluster-scoped); the Cluster's creation says more if the operator is missing.
      problems.push(`cannot check for CloudNativePG at ${server}: ${(error as Error).message}`);
    }
  }

  // The operator's release, from its Deployment's image tag (ghcr.io/cloudnative-pg/cloudnative-pg:1.29.2).
  try {
    const deployments = await kc.makeApiClient(k8s.AppsV1Api).listNamespacedDeployment({ namespace: inputs.operator.namespace, labelSelector: inputs.operator.labels });
    for (const d of deployments.items) {
      const image = d.spec?.template.spec?.containers[0]?.image ?? "";
      const version = /:v?(\d+\.\d+\.\d+)(?:$|[^\d.])/.exec(image)?.[1];
      if (version && olderThan(version, inputs.release)) {
        problems.push(
          `the CloudNativePG operator ${d.metadata?.name} in namespace ${inputs.operator.namespace} runs ${image}, older than ${inputs.release}, whose fixes this stack needs (CVE-2026-55769: a database owner, as the stack's services log in, could become superuser); upgrade it with \`${inputs.installCommand}\`, then \`pulumi up\` again`,
        );
      }
    }
  } catch (error) {
    // 403: the user may not read the operator's namespace: its release is not checked then.
    if (status(error) !== 403 && status(error) !== 404) problems.push(`cannot check the CloudNativePG operator's release in namespace ${inputs.operator.namespace} at ${server}: ${(error as Error).message}`);
  }

  try {
    await kc.makeApiClient(k8s.AppsV1Api).readNamespacedStatefulSet({ name: inputs.formerStatefulSet, namespace });
    problems.push(
      `namespace ${namespace} holds the PostgreSQL StatefulSet ${inputs.formerStatefulSet} of an earlier release of this stack; this release runs PostgreSQL as a CloudNativePG Cluster, which would start empty beside it, and the up would then delete that StatefulSet. Move the data first (README, "Moving PostgreSQL to CloudNativePG"): nothing was changed`,
    );
  } catch (error) {
    if (status(error) !== 404) problems.push(`cannot check namespace ${namespace} for an earlier PostgreSQL StatefulSet ${inputs.formerStatefulSet} at ${server}: ${(error as Error).message}`);
  }

  // The operator refuses to take over a Service of that name it does not own, and the Cluster never gets ready.
  try {
    const service = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedService({ name: inputs.formerService, namespace });
    if (!(service.metadata?.ownerReferences ?? []).some((o) => o.kind === "Cluster" && o.apiVersion.startsWith("postgresql.cnpg.io/"))) {
      problems.push(
        `namespace ${namespace} holds the Service ${inputs.formerService} of an earlier release of this stack, which the CloudNativePG operator would have to own: move PostgreSQL over first (README, "Moving PostgreSQL to CloudNativePG"); nothing was changed`,
      );
    }
  } catch (error) {
    if (status(error) !== 404) problems.push(`cannot check namespace ${namespace} for an earlier Service ${inputs.formerService} at ${server}: ${(error as Error).message}`);
  }
  return problems;
}

export const operatorCheckProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: OperatorCheckInputs, news: OperatorCheckInputs) {
    const problems = await operatorProblems(news);
    // On no property: Pulumi prints a property's value with its failure, and this one holds the kubeconfig.
    return { inputs: news, failures: problems.map((reason) => ({ property: "", reason })) };
  },
  async create(inputs: OperatorCheckInputs) {
    return { id: `cloudnative-pg-${inputs.kubernetes.namespace}`, outs: inputs };
  },
  async diff(_id: string, olds: OperatorCheckInputs, news: OperatorCheckInputs) {
    const keys: Array<keyof OperatorCheckInputs> = ["kubernetes", "crd", "needs", "release", "installCommand", "operator", "formerStatefulSet", "formerService"];
    return { changes: keys.some((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k])) };
  },
  async update(_id: string, _olds: OperatorCheckInputs, news: OperatorCheckInputs) {
    return { outs: news };
  },
  // Only a check: nothing to remove anywhere.
  async delete() {},
};
