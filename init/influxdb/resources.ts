// The InfluxDB init hook as a Pulumi dynamic resource; what it does lives in apply.ts.
import * as pulumi from "@pulumi/pulumi";
import { hookProvider } from "../hook";
import { hookInputs, type HookArgs } from "../hook-resource";
import { applyInfluxdbInit, influxdbInitServer, type InfluxdbInitInputs } from "./apply";

export const influxdbInitProvider = hookProvider<InfluxdbInitInputs>({
  id: (inputs) => `influxdb-init-${inputs.org}`,
  apply: applyInfluxdbInit,
  servers: (inputs) => [influxdbInitServer(inputs)],
});

/** Buckets with retention, the downsampling task and the services' scoped tokens. */
export class InfluxdbInit extends pulumi.dynamic.Resource {
  declare readonly orgID: pulumi.Output<string>;
  declare readonly bucketIds: pulumi.Output<Record<string, string>>;
  /** The token the hook worked with (the declared admin token, unless it had to sign in). Secret. */
  declare readonly operatorToken: pulumi.Output<string>;
  /** Secret. */
  declare readonly tokenValues: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: HookArgs<InfluxdbInitInputs>, opts?: pulumi.CustomResourceOptions) {
    const outputs = { operatorToken: undefined, signedIn: undefined, setUp: undefined, orgID: undefined, bucketIds: undefined, taskID: undefined, tokenValues: undefined, changedThisRun: undefined };
    super(influxdbInitProvider, name, { ...outputs, ...hookInputs(influxdbInitProvider, args) }, { ...opts, additionalSecretOutputs: ["adminToken", "adminPassword", "operatorToken", "tokenValues", "kubernetes", "fingerprint", "workFingerprint"] }, "trading", "InfluxdbInit");
  }
}
