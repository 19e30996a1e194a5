// The dynamic provider behind every init hook, so each hook only says what it does.
//
// How Pulumi runs this: the provider object below is serialised into the resource's `__provider`
// input and later loaded from that text by the dynamic-provider host. So the functions it reaches
// are captured by value, and they may `require` npm packages only inside their bodies (a relative
// require would resolve against the host, not this folder). Inputs hold everything a hook needs,
// including its code version and content checksums: code changes reach an existing stack only
// through changed inputs.
import type * as pulumi from "@pulumi/pulumi";
import { openMajority, targetCluster, withAccesses, type KubernetesTarget, type ServerAccess } from "./access";

export interface HookSpec<I> {
  /**
   * Runs on create and on update (with the previous outputs, which hold the previous inputs: a
   * rotated password is changed by logging in with the one before); its result is merged into the
   * resource's outputs.
   */
  apply(inputs: I, previous?: I): Promise<Record<string, unknown>>;
  /** Runs when the resource is deleted, with its last outputs (which include its inputs). */
  remove?(outputs: I): Promise<void>;
  /**
   * Inputs whose change means delete-then-create (e.g. a slot name) instead of an update. A dotted
   * path ("kubernetes.pod") looks inside an input; the engine is told its top-level input.
   */
  replaceOnChange?: string[];
  /** Resource id from the inputs; stable across updates. */
  id(inputs: I): string;
  /**
   * The servers the hook reaches. When an update changes only a kubeconfig's credentials, the hook
   * has nothing to do, but opens each of them once with the new credentials, so that credentials
   * the cluster refuses fail this `up` rather than a later `destroy`.
   */
  servers(inputs: I): ServerAccess[];
  /** The servers are members of a replicated set: a majority of them answering is enough (the others are reported by the run). */
  majorityOfServers?: boolean;
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

/**
 * sha256 over what a hook does: its inputs with each Kubernetes target counted by the cluster it
 * reaches, not by the kubeconfig's credentials (targetCluster). Unchanged across an update when only
 * those credentials changed (a token that rotates, as a CI job's does): the work is done already.
 */
export async function workFingerprint(inputs: Record<string, unknown>): Promise<string> {
  const resolve = async (value: unknown): Promise<unknown> => {
    if (Array.isArray(value)) return Promise.all(value.map(resolve));
    if (value && typeof value === "object") {
      const record = value as Record<string, unknown>;
      if (typeof record.kubeconfig === "string" && typeof record.namespace === "string" && (typeof record.pod === "string" || record.selector !== undefined)) {
        return targetCluster(record as unknown as KubernetesTarget);
      }
      return Object.fromEntries(await Promise.all(Object.entries(record).map(async ([k, v]) => [k, await resolve(v)])));
    }
    return value;
  };
  return inputFingerprint((await resolve(inputs)) as Record<string, unknown>);
}

export function hookProvider<I extends Record<string, unknown>>(spec: HookSpec<I>): pulumi.dynamic.ResourceProvider {
  return {
    async create(inputs: I) {
      const result = await spec.apply(inputs);
      return { id: spec.id(inputs), outs: { ...inputs, ...result, fingerprint: inputFingerprint(inputs), workFingerprint: await workFingerprint(inputs) } };
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
    async update(_id: string, olds: I & { workFingerprint?: string }, news: I) {
      const work = await workFingerprint(news);
      if (olds.workFingerprint === work) {
        // Only the credentials that reach the servers changed: nothing to do there once they are
        // known to work, but the outputs take the new inputs, so that a later delete (which gets
        // only the outputs) can still reach them.
        await checkAccess(spec.servers(news), spec.majorityOfServers ?? false);
        const given = Object.fromEntries(Object.entries(news).filter(([, value]) => value !== undefined));
        return { outs: { ...olds, ...given, fingerprint: inputFingerprint(news), workFingerprint: work } };
      }
      const result = await spec.apply(news, olds);
      return { outs: { ...news, ...result, fingerprint: inputFingerprint(news), workFingerprint: work } };
    },
    async delete(_id: string, olds: I) {
      if (spec.remove) await spec.remove(olds);
    },
  };
}

/**
 * Opens each server once (the new credentials let in?) and closes it. With `majority`, servers
 * that cannot be reached are fine while more than half can be (a member being recreated).
 */
async function checkAccess(servers: ServerAccess[], majority: boolean): Promise<void> {
  if (!majority) return withAccesses(servers, async () => undefined);
  const { members } = await openMajority(servers, "the set's members");
  await Promise.all(members.map((m) => m?.close()));
}
