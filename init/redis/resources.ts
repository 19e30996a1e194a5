// The Redis init hook as a Pulumi dynamic resource; what it does lives in apply.ts.
import * as pulumi from "@pulumi/pulumi";
import { hookProvider } from "../hook";
import { hookInputs, type HookArgs } from "../hook-resource";
import { applyRedisInit, redisInitServer, type RedisInitInputs } from "./apply";

export const redisInitProvider = hookProvider<RedisInitInputs>({
  id: (inputs) => `redis-init-${inputs.port}`,
  apply: applyRedisInit,
  servers: (inputs) => [redisInitServer(inputs)],
});

/** Seed keys written where absent. */
export class RedisInit extends pulumi.dynamic.Resource {
  declare readonly seededThisRun: pulumi.Output<string[]>;

  constructor(name: string, args: HookArgs<RedisInitInputs>, opts?: pulumi.CustomResourceOptions) {
    super(redisInitProvider, name, { seededThisRun: undefined, keptExisting: undefined, ...hookInputs(redisInitProvider, args) }, { ...opts, additionalSecretOutputs: ["password", "kubernetes", "fingerprint", "workFingerprint"] }, "trading", "RedisInit");
  }
}
