import * as pulumi from "@pulumi/pulumi";
import { PostgresInit, PostgresReplicaCheck, PostgresReplicationSlot } from "../init/postgres/resources";
import { scriptsChecksum, type DatabaseScripts } from "../init/postgres/scripts";
import type { CommonConfig, PostgresConfig } from "./config";
import { hookAccess, kubernetesTarget, placeServer, serverImage, type Engine, type PlacedServer } from "./engine";
import { disruptionBudget } from "./kubernetes/context";
import { groupService } from "./kubernetes/workload";
import {
  advancedTradingPlatformPostgresEnv,
  POSTGRES_CONTAINER_PORT,
  POSTGRES_DATABASES,
  POSTGRES_ROLES,
  postgresNames,
  postgresUri,
  primarySpec,
  replicaSpec,
  tradingSimulationPostgresEnv,
} from "./postgres-spec";
import type { PostgresSecrets } from "./secrets";
import type { Endpoint } from "./server-spec";
import type { ServiceEnvPart } from "./service-env";

// PostgreSQL primary with N streaming replicas, and the hooks that set it up:
//   primary (ready) -> init hook (roles, databases, migrations, seeds)
//         -> per replica: slot -> replica (ready) -> streaming check
// On Docker each server is a container; on Kubernetes a StatefulSet, with a read-write Service on
// the primary and a read-only Service on the replicas.

export interface PostgresClusterArgs {
  postgres: PostgresConfig;
  common: CommonConfig;
  engine: Engine;
  secrets: PostgresSecrets;
  /** Migrations and seeds per database, loaded and validated before any resource is created. */
  scripts: DatabaseScripts[];
  /** Text of init/scripts/postgres-replica-entrypoint.sh. */
  replicaEntrypoint: string;
  /** Text of init/scripts/postgres-primary-entrypoint.sh. */
  primaryEntrypoint: string;
}

export interface PostgresUris {
  /** The owner on the primary, from the operator's machine. */
  owner: string;
  /** The owner on the primary, for the services. */
  ownerInNetwork: string;
  /** trading_readonly on the primary, from the operator's machine. */
  readonly: string;
  /** trading_readonly on the replicas, for the services (the primary when there is none). */
  readonlyInNetwork: string;
  /** trading_readonly on each replica, from the operator's machine. */
  replicas: string[];
}

export interface PostgresServer {
  container: string;
  /** A replica's replication slot on the primary (also its application_name there). */
  slot?: string;
  /** Where processes on the operator's machine connect (127.0.0.1). */
  host: Endpoint;
  /** Where the services connect: the Docker app network, or the cluster's DNS. */
  network: Endpoint;
}

/** How long a hook waits for a replica's marker, after the replica reported healthy. */
const REPLICA_CHECK_TIMEOUT_SECONDS = 60;
/** How long the init hook waits for another run holding its lock. */
const INIT_LOCK_TIMEOUT_SECONDS = 600;

export class PostgresCluster extends pulumi.ComponentResource {
  readonly primary: PostgresServer;
  readonly replicas: PostgresServer[];
  readonly init: PostgresInit;
  readonly replicaChecks: PostgresReplicaCheck[] = [];
  /** Kubernetes: the Service on every replica; undefined on Docker or without replicas. */
  readonly readOnlyEndpoint: Endpoint | undefined;
  /** How the hooks and `npm run verify` reach the primary and each replica. */
  readonly access: { primary: PlacedServer["access"]; replicas: PlacedServer["access"][] };
  /** Connection URIs per database (secret). */
  readonly uris: pulumi.Output<Record<string, PostgresUris>>;
  /** Env maps with each seed's variable names, for containers on the app network and for host processes (secret). */
  readonly env: pulumi.Output<ServiceEnvPart>;

  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:postgres:Cluster", name, {}, opts);
    const { postgres: pg, common, engine, secrets } = args;
    const names = postgresNames(common.namePrefix);
    const ownerPasswords = pulumi.all(secrets.owners) as pulumi.Output<Record<string, string>>;
    const image = serverImage(engine, `${name}-image`, pg.image, this);
    this.readOnlyEndpoint = undefined;
    const kubernetesName = (service: string) => (engine.kind === "kubernetes" ? engine.kubernetes.objectName(service) : service);

    // Primary
    const primary = placeServer(
      engine,
      {
        spec: primarySpec(pg, names.primaryHost, args.primaryEntrypoint),
        secrets: { superuser: secrets.superuser },
        hostPort: pg.port,
        docker: { image, resourceNames: { container: `${name}-primary`, volumes: { data: `${name}-data` } }, containerName: names.primaryContainer, volumeNames: { data: names.primaryVolume } },
        kubernetes: { resourceName: `${name}-primary`, storageGb: pg.storageGb },
      },
      this,
    );

    this.init = new PostgresInit(
      `${name}-init`,
      {
        ...hookAccess(primary.access),
        superuser: POSTGRES_ROLES.superuser,
        superuserPassword: secrets.superuser,
        replicationRole: POSTGRES_ROLES.replication,
        replicationPassword: secrets.replication,
        readonlyRole: POSTGRES_ROLES.readonly,
        readonlyPassword: secrets.readonly,
        ownerPasswords,
        databases: POSTGRES_DATABASES.map((db) => {
          const scripts = args.scripts.find((s) => s.database === db.name);
          if (!scripts) throw new Error(`no migrations loaded for database ${db.name}`);
          return { name: db.name, owner: db.owner, migrations: scripts.migrations, seeds: scripts.seeds };
        }),
        connectTimeoutSeconds: common.waitTimeoutSeconds,
        lockTimeoutSeconds: INIT_LOCK_TIMEOUT_SECONDS,
        scriptsChecksum: scriptsChecksum(args.scripts),
        serverId: primary.revision,
      },
      { parent: this, dependsOn: [primary.resource] },
    );

    // Replicas: each its own server (Docker container, or StatefulSet of one pod), each with its own slot.
    const replicas: PostgresServer[] = [];
    const replicaAccess: PlacedServer["access"][] = [];
    const replicaGroup = { "trading-db-stack/group": `${common.namePrefix}-postgres-replicas` };
    for (let n = 1; n <= pg.replicas; n++) {
      const slotName = names.replicaSlot(n);
      const hostPort = pg.replicaFirstPort + n - 1;
      const slot = new PostgresReplicationSlot(
        `${name}-replica-${n}-slot`,
        {
          ...hookAccess(primary.access),
          superuser: POSTGRES_ROLES.superuser,
          superuserPassword: secrets.superuser,
          slotName,
          connectTimeoutSeconds: common.waitTimeoutSeconds,
        },
        // After init: the replica's base backup needs the replication role.
        { parent: this, dependsOn: [this.init] },
      );
      const replica = placeServer(
        engine,
        {
          spec: replicaSpec(pg, names.replicaHost(n), n, kubernetesName(names.primaryHost), slotName, args.replicaEntrypoint),
          secrets: { replication: secrets.replication },
          hostPort,
          docker: {
            image,
            resourceNames: { container: `${name}-replica-${n}`, volumes: { data: `${name}-replica-${n}-data` } },
            containerName: names.replicaContainer(n),
            volumeNames: { data: names.replicaVolume(n) },
          },
          kubernetes: { resourceName: `${name}-replica-${n}`, storageGb: pg.storageGb, podLabels: replicaGroup },
          dependsOn: [primary.resource, slot],
        },
        this,
      );
      replicaAccess.push(replica.access);
      this.replicaChecks.push(
        new PostgresReplicaCheck(
          `${name}-replica-${n}-check`,
          {
            primaryHost: primary.access.host,
            primaryPort: primary.access.port,
            replicaHost: replica.access.host,
            replicaPort: replica.access.port,
            ...(primary.access.kubernetes ? { primaryKubernetes: kubernetesTarget(primary.access), replicaKubernetes: kubernetesTarget(replica.access) } : {}),
            superuser: POSTGRES_ROLES.superuser,
            superuserPassword: secrets.superuser,
            slotName,
            timeoutSeconds: REPLICA_CHECK_TIMEOUT_SECONDS,
            replicaId: replica.revision,
          },
          { parent: this, dependsOn: [replica.resource] },
        ),
      );
      replicas.push({ container: replica.name, slot: slotName, host: replica.host, network: replica.network });
    }
    this.access = { primary: primary.access, replicas: replicaAccess };

    if (engine.kind === "kubernetes" && pg.replicas > 0) {
      const context = engine.kubernetes;
      // The read-only endpoint: every replica, for clients that read and tolerate replication lag.
      this.readOnlyEndpoint = groupService(context, `${name}-readonly`, "postgres-ro", replicaGroup, { name: "postgres", number: POSTGRES_CONTAINER_PORT }, { parent: this }).endpoint;
      // A drain takes at most one replica at a time.
      const budgetNames = { objectName: context.objectName("postgres-replicas"), resourceName: `${name}-replicas` };
      disruptionBudget(context, budgetNames, { ...context.stackLabels, ...replicaGroup }, { maxUnavailable: 1 }, { parent: this });
    }

    this.primary = { container: primary.name, host: primary.host, network: primary.network };
    this.replicas = replicas;

    // Reads that tolerate lag go to the replicas: the read-only Service on Kubernetes, replica 1 on Docker.
    const readOnlyNetwork = this.readOnlyEndpoint ?? replicas[0]?.network ?? this.primary.network;
    this.uris = pulumi.secret(
      pulumi.all([ownerPasswords, secrets.readonly]).apply(([owners, readonly]) =>
        Object.fromEntries(
          POSTGRES_DATABASES.map((db) => [
            db.name,
            {
              owner: postgresUri("postgresql", db.owner, owners[db.name], this.primary.host, db.name),
              ownerInNetwork: postgresUri("postgresql", db.owner, owners[db.name], this.primary.network, db.name),
              readonly: postgresUri("postgresql", POSTGRES_ROLES.readonly, readonly, this.primary.host, db.name),
              readonlyInNetwork: postgresUri("postgresql", POSTGRES_ROLES.readonly, readonly, readOnlyNetwork, db.name),
              replicas: replicas.map((r) => postgresUri("postgresql", POSTGRES_ROLES.readonly, readonly, r.host, db.name)),
            },
          ]),
        ),
      ),
    );
    const platform = databaseNamed("trading_platform");
    const results = databaseNamed("trading_results");
    const envFor = (owners: Record<string, string>, where: "host" | "network") => ({
      "advanced-trading-platform": advancedTradingPlatformPostgresEnv(platform.owner, owners[platform.name], this.primary[where]),
      "trading-simulation": tradingSimulationPostgresEnv(results.owner, owners[results.name], this.primary[where]),
    });
    this.env = pulumi.secret(ownerPasswords.apply((owners) => ({ inNetwork: envFor(owners, "network"), host: envFor(owners, "host") })));

    this.registerOutputs({ primary: this.primary, replicas: this.replicas, uris: this.uris, env: this.env });
  }
}

function databaseNamed(name: string) {
  const db = POSTGRES_DATABASES.find((d) => d.name === name);
  if (!db) throw new Error(`unknown database ${name}`);
  return db;
}
