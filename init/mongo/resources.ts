// The MongoDB init hook as a Pulumi dynamic resource; what it does lives in apply.ts.
import * as pulumi from "@pulumi/pulumi";
import { hookProvider } from "../hook";
import { hookInputs, type HookArgs } from "../hook-resource";
import { applyMongoInit, type MongoInitInputs } from "./apply";

export const mongoInitProvider = hookProvider<MongoInitInputs>({
  id: (inputs) => `mongo-init-${inputs.replicaSetName}`,
  apply: applyMongoInit,
  servers: (inputs) => inputs.clientEndpoints,
  majorityOfServers: true,
});

/** Replica set initiated and configured, users, collections with validators and indexes, seed documents. */
export class MongoInit extends pulumi.dynamic.Resource {
  declare readonly memberStates: pulumi.Output<string[]>;
  declare readonly recordedMigrations: pulumi.Output<string[]>;
  declare readonly initiated: pulumi.Output<boolean>;

  constructor(name: string, args: HookArgs<MongoInitInputs>, opts?: pulumi.CustomResourceOptions) {
    // clientEndpoints is secret for the kubeconfigs it may carry (Kubernetes).
    const outputs = { initiated: undefined, reconfigurations: undefined, memberStates: undefined, recordedMigrations: undefined, appliedThisRun: undefined, usersChanged: undefined, primaryChanges: undefined, rootReset: undefined, systemLogins: undefined, unreachable: undefined };
    super(mongoInitProvider, name, { ...outputs, ...hookInputs(mongoInitProvider, args) }, { ...opts, additionalSecretOutputs: ["rootPassword", "keyfile", "users", "clientEndpoints", "fingerprint", "workFingerprint"] }, "trading", "MongoInit");
  }
}
