// The Pulumi side of every hook: its resource inputs, and the hook version derived from its code.
// Kept apart from init/hook.ts, whose functions are serialised into the providers.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";

/** Inputs of a hook resource: each field may be an Output; `hookVersion` is filled in from the code. */
export type HookArgs<T> = { [K in Exclude<keyof T, "hookVersion">]: pulumi.Input<T[K]> };

const versions = new Map<pulumi.dynamic.ResourceProvider, pulumi.Output<string>>();

/**
 * sha256 of the provider's code exactly as Pulumi serialises it into `__provider` (the same call
 * @pulumi/pulumi/dynamic makes). `__provider` itself is not compared by a hook's diff, so this
 * version is what makes any change to what a hook does show as an update of that hook, and only
 * of that hook, and run the new code on stacks that are already up.
 */
export function hookVersion(provider: pulumi.dynamic.ResourceProvider): pulumi.Output<string> {
  let version = versions.get(provider);
  if (!version) {
    const serialised = pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    version = pulumi.output(serialised.then((sf) => crypto.createHash("sha256").update(sf.text).digest("hex")));
    versions.set(provider, version);
  }
  return version;
}

/** The inputs a hook resource registers: the component's args and the code's version. */
export function hookInputs<T>(provider: pulumi.dynamic.ResourceProvider, args: HookArgs<T>): Record<string, unknown> {
  return { ...args, hookVersion: hookVersion(provider) };
}
