import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { formerlyNamed } from "../names";

// The two Docker networks of seed 002:
// - <prefix>-db-network: internal (no route out of the host). Database traffic among the stack's own
//   containers: replication, and later the admin tools.
// - <prefix>-network: the network dependent services join to reach the databases by name
//   (postgres:5432). Docker publishes ports only through a non-internal network, so the database
//   containers join it too, and it carries their 127.0.0.1 port mappings.

export interface DockerNetworksArgs {
  namePrefix: string;
  labels: docker.types.input.NetworkLabel[];
}

export function networkNames(prefix: string): { db: string; app: string } {
  return { db: `${prefix}-db-network`, app: `${prefix}-network` };
}

export class DockerNetworks extends pulumi.ComponentResource {
  readonly db: docker.Network;
  readonly app: docker.Network;

  constructor(name: string, args: DockerNetworksArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:docker:Networks", name, {}, opts);
    const names = networkNames(args.namePrefix);
    this.db = new docker.Network(`${name}-db`, { name: names.db, driver: "bridge", internal: true, labels: args.labels }, { parent: this, ...formerlyNamed("db-network", `${name}-db`) });
    this.app = new docker.Network(`${name}-app`, { name: names.app, driver: "bridge", attachable: true, labels: args.labels }, { parent: this, ...formerlyNamed("app-network", `${name}-app`) });
    this.registerOutputs({ dbNetwork: this.db.name, appNetwork: this.app.name });
  }
}
