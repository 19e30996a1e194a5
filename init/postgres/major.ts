// The PostgreSQL major a stack's data is in, kept in the state: a later `up` whose image is another
// major is refused in its preview, before any container is replaced, since the new server would
// start an empty cluster beside the old data (PGDATA is /var/lib/postgresql/<major>/docker). The
// primary's wrapper entrypoint refuses too, for data kept by a destroy (no state to compare with).
// A dynamic resource whose `check` compares the old and new inputs; Pulumi runs it in every
// preview and update. Runs inside the serialised dynamic provider (see init/hook.ts).
import type * as pulumi from "@pulumi/pulumi";

export interface MajorGuardInputs extends Record<string, unknown> {
  majorVersion: number;
  image: string;
  /** The primary's data volume, for the message. */
  volume: string;
}

/** Why the change is refused, or undefined when the major is the one the data is in. */
export function majorChangeProblem(olds: Partial<MajorGuardInputs> | undefined, news: MajorGuardInputs): string | undefined {
  const before = olds?.majorVersion;
  if (before === undefined || before === news.majorVersion) return undefined;
  const direction = news.majorVersion > before ? "would start an empty cluster beside it" : "cannot read data of a newer major";
  return (
    `postgresImage ${news.image} is PostgreSQL ${news.majorVersion}, and the data in volume ${news.volume} is PostgreSQL ${before}: the new server ${direction}. ` +
    `Nothing was changed. Set postgresImage back to a ${before}.x tag (${olds?.image ?? "the one before"}), or move the data to the new major first (docs/high-availability.md, "PostgreSQL major on Docker")`
  );
}

export const majorGuardProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<MajorGuardInputs>, news: MajorGuardInputs) {
    const problem = majorChangeProblem(olds, news);
    return { inputs: news, failures: problem ? [{ property: "majorVersion", reason: problem }] : [] };
  },
  async create(inputs: MajorGuardInputs) {
    return { id: `postgres-major-${inputs.volume}`, outs: inputs };
  },
  async diff(_id: string, olds: MajorGuardInputs, news: MajorGuardInputs) {
    return { changes: olds.majorVersion !== news.majorVersion || olds.image !== news.image || olds.volume !== news.volume };
  },
  async update(_id: string, _olds: MajorGuardInputs, news: MajorGuardInputs) {
    return { outs: news };
  },
  // Only a record in the state: nothing to remove anywhere.
  async delete() {},
};
