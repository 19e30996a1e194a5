// The dynamic provider behind every init hook, so each hook only says what it does.
//
// How Pulumi runs this: the provider object below is serialised into the resource's `__provider`
// input and later loaded from that text by the dynamic-provider host. So the functions it reaches
// are captured by value, and they may `require` npm packages only inside their bodies (a relative
// require would resolve against the host, not this folder). Inputs hold everything a hook needs,
// including its code version and content checksums: code changes reach an existing stack only
// through changed inputs.
import type * as pulumi from "@pulumi/pulumi";

export interface HookSpec<I> {
  /** Runs on create and on update; its result is merged into the resource's outputs. */
  apply(inputs: I): Promise<Record<string, unknown>>;
  /** Runs when the resource is deleted, with its last outputs (which include its inputs). */
  remove?(outputs: I): Promise<void>;
  /**
   * Inputs whose change means delete-then-create (e.g. a slot name) instead of an update. A dotted
   * path ("kubernetes.pod") looks inside an input; the engine is told its top-level input.
   */
  replaceOnChange?: string[];
  /** Resource id from the inputs; stable across updates. */
  id(inputs: I): string;
}

/** sha256 over the inputs (not Pulumi's own "__" keys), the key to "has anything changed". */
export function inputFingerprint(inputs: Record<string, unknown>): string {
  const crypto = require("crypto") as typeof import("crypto");
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === "object") {
      return Object.fromEntries(
        Object.keys(value as object)
          .filter((k) => !k.startsWith("__"))
          .sort()
          .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
      );
    }
    return value;
  };
  const { fingerprint: _ignored, ...rest } = inputs;
  return crypto.createHash("sha256").update(JSON.stringify(canonical(rest))).digest("hex");
}

export function hookProvider<I extends Record<string, unknown>>(spec: HookSpec<I>): pulumi.dynamic.ResourceProvider {
  return {
    async create(inputs: I) {
      const result = await spec.apply(inputs);
      return { id: spec.id(inputs), outs: { ...inputs, ...result, fingerprint: inputFingerprint(inputs) } };
    },
    async diff(_id: string, olds: I & { fingerprint?: string }, news: I) {
      const at = (value: unknown, path: string) => path.split(".").reduce((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
      const changed = (spec.replaceOnChange ?? []).filter((p) => JSON.stringify(at(olds, p)) !== JSON.stringify(at(news, p)));
      const replaces = [...new Set(changed.map((p) => p.split(".")[0]))];
      return {
        changes: olds.fingerprint !== inputFingerprint(news),
        replaces,
        deleteBeforeReplace: replaces.length > 0,
      };
    },
    async update(_id: string, _olds: I, news: I) {
      const result = await spec.apply(news);
      return { outs: { ...news, ...result, fingerprint: inputFingerprint(news) } };
    },
    async delete(_id: string, olds: I) {
      if (spec.remove) await spec.remove(olds);
    },
  };
}
