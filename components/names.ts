import type * as pulumi from "@pulumi/pulumi";

// Every resource is named after its component (`${name}-…`, as pulumi-awsx does), so two stacks of
// components can live in one program. Resources that had other names in earlier releases carry an
// alias to that name: the first `up` after an upgrade moves their state over (a container is not
// replaced, a password is not generated again). A child needs no alias of its own when its former
// name is its parent's former name followed by what follows the parent's new name in its own
// (`postgres-init` under `postgres`, now `trading-postgres-init` under `trading-postgres`): the
// engine derives that alias from the parent's.

/** Options that carry a resource's state over from `former`, its name in an earlier release. */
export function formerlyNamed(former: string, current: string): Pick<pulumi.ResourceOptions, "aliases"> {
  return former === current ? {} : { aliases: [{ name: former }] };
}
