import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { SPEC_HASH_LABEL, specHash, type Healthcheck } from "./container-spec";

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
    this.db = new docker.Network("db-network", { name: names.db, driver: "bridge", internal: true, labels: args.labels }, { parent: this });
    this.app = new docker.Network("app-network", { name: names.app, driver: "bridge", attachable: true, labels: args.labels }, { parent: this });
    this.registerOutputs({ dbNetwork: this.db.name, appNetwork: this.app.name });
  }
}

export interface ServiceContainerOptions {
  networks: { db: docker.Network; app: docker.Network };
  labels: docker.types.input.ContainerLabel[];
  /** The container's DNS name on both networks (postgres, mongodb-2, redis...). */
  alias: string;
  /** Value of the com.trading-db-stack.role label. */
  role: string;
  waitTimeoutSeconds: number;
  /** How long a stop may take before SIGKILL: without it the provider stops with timeout 0. */
  stopGraceSeconds: number;
  healthcheck: Healthcheck;
}

/**
 * Options every service container takes. Fixed names and host ports: the old container must go
 * before its replacement starts. (A changed `waitTimeout` is an in-place update the provider keeps
 * in its state only: it reads the value when it creates a container, kreuzwerker/
 * terraform-provider-docker#467, and never restarts one for it.)
 */
export const SERVICE_CONTAINER_OPTIONS: pulumi.CustomResourceOptions = { deleteBeforeReplace: true };

/**
 * What every container of the stack shares: restarted unless stopped, health-checked and waited for
 * until healthy at create, labelled (with the hash of what the provider ignores on update), and on
 * both networks under its service name. An internal network has no gateway, so the app network
 * carries the published ports.
 */
export function serviceContainerArgs(o: ServiceContainerOptions) {
  return {
    restart: "unless-stopped",
    destroyGraceSeconds: o.stopGraceSeconds,
    wait: true,
    waitTimeout: o.waitTimeoutSeconds,
    healthcheck: o.healthcheck,
    labels: [...o.labels, { label: "com.trading-db-stack.role", value: o.role }, { label: SPEC_HASH_LABEL, value: specHash({ healthcheck: o.healthcheck }) }],
    networksAdvanced: [
      { name: o.networks.app.name, aliases: [o.alias] },
      { name: o.networks.db.name, aliases: [o.alias] },
    ],
  };
}
