// The PostgreSQL hooks as Pulumi dynamic resources. What they do lives in apply.ts and
// replication.ts; here they are wired to the generic provider and their secret outputs are named.
import * as pulumi from "@pulumi/pulumi";
import { hookProvider } from "../hook";
import { hookInputs, type HookArgs } from "../hook-resource";
import { applyPostgresInit, postgresInitServer, type PostgresInitInputs } from "./apply";
import { majorGuardProvider, type MajorGuardInputs } from "./major";
import { operatorCheckProvider, type OperatorCheckInputs } from "./operator";
import { checkReplica, dropReplicationSlot, ensureReplicationSlot, primaryAccess, replicaCheckServers, type ReplicaCheckInputs, type ReplicationSlotInputs } from "./replication";

export const postgresInitProvider = hookProvider<PostgresInitInputs>({
  id: (inputs) => `postgres-init-${inputs.port}`,
  apply: applyPostgresInit,
  servers: (inputs) => [postgresInitServer(inputs)],
});

export const replicationSlotProvider = hookProvider<ReplicationSlotInputs>({
  id: (inputs) => inputs.slotName,
  apply: ensureReplicationSlot,
  remove: dropReplicationSlot,
  servers: (inputs) => [primaryAccess(inputs)],
  // Another primary (or pod) holds no slot of ours: the old one's slot is dropped, a new one made.
  replaceOnChange: ["slotName", "host", "port", "kubernetes.namespace", "kubernetes.pod"],
});

export const replicaCheckProvider = hookProvider<ReplicaCheckInputs>({
  id: (inputs) => `replica-check-${inputs.slotName}`,
  apply: checkReplica,
  servers: replicaCheckServers,
});

/** Roles, databases, migrations and seed data on the primary. */
export class PostgresInit extends pulumi.dynamic.Resource {
  declare readonly migrations: pulumi.Output<Record<string, string[]>>;
  declare readonly appliedThisRun: pulumi.Output<Record<string, string[]>>;

  constructor(name: string, args: HookArgs<PostgresInitInputs>, opts?: pulumi.CustomResourceOptions) {
    super(postgresInitProvider, name, { migrations: undefined, appliedThisRun: undefined, ...hookInputs(postgresInitProvider, args) }, {
      ...opts,
      // `kubernetes` may carry a kubeconfig, with its credentials.
      additionalSecretOutputs: ["superuserPassword", "replicationPassword", "readonlyPassword", "adminToolsPassword", "ownerPasswords", "servicePasswords", "kubernetes", "fingerprint", "workFingerprint"],
    }, "trading", "PostgresInit");
  }
}

/** A replica's physical replication slot on the primary; dropped when the replica goes. */
export class PostgresReplicationSlot extends pulumi.dynamic.Resource {
  declare readonly slotName: pulumi.Output<string>;

  constructor(name: string, args: HookArgs<ReplicationSlotInputs>, opts?: pulumi.CustomResourceOptions) {
    super(replicationSlotProvider, name, hookInputs(replicationSlotProvider, args), { ...opts, additionalSecretOutputs: ["superuserPassword", "kubernetes", "fingerprint", "workFingerprint"] }, "trading", "PostgresReplicationSlot");
  }
}

/** Proof that a replica streams from the primary and refuses writes. */
export class PostgresReplicaCheck extends pulumi.dynamic.Resource {
  declare readonly markerLatencyMs: pulumi.Output<number>;
  declare readonly streamingState: pulumi.Output<string>;
  declare readonly checkedAt: pulumi.Output<string>;

  constructor(name: string, args: HookArgs<ReplicaCheckInputs>, opts?: pulumi.CustomResourceOptions) {
    super(replicaCheckProvider, name, { markerLatencyMs: undefined, streamingState: undefined, checkedAt: undefined, ...hookInputs(replicaCheckProvider, args) }, {
      ...opts,
      additionalSecretOutputs: ["superuserPassword", "primaryKubernetes", "replicaKubernetes", "fingerprint", "workFingerprint"],
    }, "trading", "PostgresReplicaCheck");
  }
}

/** The CloudNativePG operator installed and new enough, and no earlier release's PostgreSQL in the way (checked in every preview and up). */
export class PostgresOperatorCheck extends pulumi.dynamic.Resource {
  constructor(name: string, args: { [K in keyof OperatorCheckInputs]: pulumi.Input<OperatorCheckInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(operatorCheckProvider, name, args, { ...opts, additionalSecretOutputs: ["kubernetes"] }, "trading", "PostgresOperatorCheck");
  }
}

/** The PostgreSQL major the data is in: an image of another major is refused in the preview (Docker). */
export class PostgresMajorGuard extends pulumi.dynamic.Resource {
  constructor(name: string, args: { [K in keyof MajorGuardInputs]: pulumi.Input<MajorGuardInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(majorGuardProvider, name, args, opts, "trading", "PostgresMajorGuard");
  }
}
