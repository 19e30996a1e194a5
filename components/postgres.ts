import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { PostgresInit, PostgresReplicaCheck, PostgresReplicationSlot } from "../init/postgres/resources";
import { scriptsChecksum, type DatabaseScripts } from "../init/postgres/scripts";
import { LOOPBACK, type StackConfig } from "./config";
import { scriptUpload } from "./container-spec";
import { SERVICE_CONTAINER_OPTIONS, serviceContainerArgs } from "./network";
import {
  advancedTradingPlatformPostgresEnv,
  POSTGRES_CONTAINER_PORT,
  POSTGRES_DATABASES,
  POSTGRES_PATHS,
  POSTGRES_ROLES,
  postgresCommand,
  postgresHealthcheck,
  postgresNames,
  postgresUri,
  pgHbaConf,
  primaryEnv,
  replicaEnv,
  serverSettings,
  tradingSimulationPostgresEnv,
  type Endpoint,
} from "./postgres-spec";
import type { PostgresSecrets } from "./secrets";
import type { ServiceEnvPart } from "./service-env";

// PostgreSQL primary with N streaming replicas on Docker, and the hooks that set it up:
//   image -> primary (healthy) -> init hook (roles, databases, migrations, seeds)
//         -> per replica: slot -> replica container (healthy) -> streaming check

export interface PostgresClusterArgs {
  config: StackConfig;
  secrets: PostgresSecrets;
  networks: { db: docker.Network; app: docker.Network };
  /** Migrations and seeds per database, loaded and validated before any resource is created. */
  scripts: DatabaseScripts[];
  /** Text of init/scripts/postgres-replica-entrypoint.sh. */
  replicaEntrypoint: string;
  /** Text of init/scripts/postgres-primary-entrypoint.sh. */
  primaryEntrypoint: string;
  labels: docker.types.input.ContainerLabel[];
}

export interface PostgresServer {
  container: string;
  /** A replica's replication slot on the primary (also its application_name there). */
  slot?: string;
  /** Where processes on the Docker host connect (published on 127.0.0.1). */
  host: Endpoint;
  /** Where containers on the app network connect. */
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
  /** Connection URIs per database (secret). */
  readonly uris: pulumi.Output<Record<string, { owner: string; ownerInNetwork: string; readonly: string; replicas: string[] }>>;
  /** Env maps with each seed's variable names, for containers on the app network and for host processes (secret). */
  readonly env: pulumi.Output<ServiceEnvPart>;

  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:postgres:Cluster", name, {}, opts);
    const { config, secrets, networks, labels } = args;
    const pg = config.postgres;
    const names = postgresNames(config.namePrefix);
    const settings = serverSettings(pg);
    const retain = { retainOnDelete: config.retainData };
    const ownerPasswords = pulumi.all(secrets.owners) as pulumi.Output<Record<string, string>>;

    const image = new docker.RemoteImage("postgres-image", { name: pg.image, keepLocally: true }, { parent: this });

    const container = (id: string, n: number | undefined) => ({
      // A stop that is not a SIGKILL: no crash recovery on every replace.
      ...serviceContainerArgs({
        networks,
        labels,
        alias: id,
        role: n === undefined ? "primary" : `replica-${n}`,
        waitTimeoutSeconds: config.waitTimeoutSeconds,
        stopGraceSeconds: 60,
        healthcheck: postgresHealthcheck(),
      }),
      image: image.imageId,
      memory: pg.memoryMb,
      cpus: pg.cpus,
      // Docker's 64 MiB /dev/shm is too small for parallel queries.
      shmSize: Math.min(1024, Math.max(128, Math.floor(pg.memoryMb / 4))),
    });

    // Primary
    const primaryVolume = new docker.Volume("postgres-data", { name: names.primaryVolume, labels }, { parent: this, ...retain });
    const primary = new docker.Container(
      "postgres-primary",
      {
        ...container(names.primaryHost, undefined),
        name: names.primaryContainer,
        entrypoints: [POSTGRES_PATHS.primaryEntrypoint],
        command: postgresCommand(settings),
        envs: primaryEnv(pg),
        ports: [{ internal: POSTGRES_CONTAINER_PORT, external: pg.port, ip: LOOPBACK }],
        volumes: [{ volumeName: primaryVolume.name, containerPath: POSTGRES_PATHS.volumeMount }],
        uploads: [
          { file: POSTGRES_PATHS.hbaFile, content: pgHbaConf() },
          scriptUpload(POSTGRES_PATHS.primaryEntrypoint, args.primaryEntrypoint),
          { file: POSTGRES_PATHS.superuserPasswordFile, content: pulumi.secret(secrets.superuser) },
        ],
      },
      { parent: this, ...SERVICE_CONTAINER_OPTIONS },
    );

    this.init = new PostgresInit(
      "postgres-init",
      {
        host: LOOPBACK,
        port: pg.port,
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
        connectTimeoutSeconds: config.waitTimeoutSeconds,
        lockTimeoutSeconds: INIT_LOCK_TIMEOUT_SECONDS,
        scriptsChecksum: scriptsChecksum(args.scripts),
        serverId: primary.id,
      },
      { parent: this, dependsOn: [primary] },
    );

    // Replicas
    const replicas: PostgresServer[] = [];
    for (let n = 1; n <= pg.replicas; n++) {
      const slotName = names.replicaSlot(n);
      const hostPort = pg.replicaFirstPort + n - 1;
      const slot = new PostgresReplicationSlot(
        `postgres-replica-${n}-slot`,
        {
          host: LOOPBACK,
          port: pg.port,
          superuser: POSTGRES_ROLES.superuser,
          superuserPassword: secrets.superuser,
          slotName,
          connectTimeoutSeconds: config.waitTimeoutSeconds,
        },
        // After init: the replica's base backup needs the replication role.
        { parent: this, dependsOn: [this.init] },
      );
      const volume = new docker.Volume(`postgres-replica-${n}-data`, { name: names.replicaVolume(n), labels }, { parent: this, ...retain });
      const replica = new docker.Container(
        `postgres-replica-${n}`,
        {
          ...container(names.replicaHost(n), n),
          name: names.replicaContainer(n),
          entrypoints: [POSTGRES_PATHS.replicaEntrypoint],
          command: postgresCommand(settings),
          envs: replicaEnv(pg, names, n),
          ports: [{ internal: POSTGRES_CONTAINER_PORT, external: hostPort, ip: LOOPBACK }],
          volumes: [{ volumeName: volume.name, containerPath: POSTGRES_PATHS.volumeMount }],
          uploads: [
            { file: POSTGRES_PATHS.hbaFile, content: pgHbaConf() },
            scriptUpload(POSTGRES_PATHS.replicaEntrypoint, args.replicaEntrypoint),
            { file: POSTGRES_PATHS.replicationPasswordFile, content: pulumi.secret(secrets.replication) },
          ],
        },
        { parent: this, ...SERVICE_CONTAINER_OPTIONS, dependsOn: [primary, slot] },
      );
      this.replicaChecks.push(
        new PostgresReplicaCheck(
          `postgres-replica-${n}-check`,
          {
            primaryHost: LOOPBACK,
            primaryPort: pg.port,
            replicaHost: LOOPBACK,
            replicaPort: hostPort,
            superuser: POSTGRES_ROLES.superuser,
            superuserPassword: secrets.superuser,
            slotName,
            timeoutSeconds: REPLICA_CHECK_TIMEOUT_SECONDS,
            replicaId: replica.id,
          },
          { parent: this, dependsOn: [replica] },
        ),
      );
      replicas.push({
        container: names.replicaContainer(n),
        slot: slotName,
        host: { host: LOOPBACK, port: hostPort },
        network: { host: names.replicaHost(n), port: POSTGRES_CONTAINER_PORT },
      });
    }

    this.primary = {
      container: names.primaryContainer,
      host: { host: LOOPBACK, port: pg.port },
      network: { host: names.primaryHost, port: POSTGRES_CONTAINER_PORT },
    };
    this.replicas = replicas;

    this.uris = pulumi.secret(
      pulumi.all([ownerPasswords, secrets.readonly]).apply(([owners, readonly]) =>
        Object.fromEntries(
          POSTGRES_DATABASES.map((db) => [
            db.name,
            {
              owner: postgresUri("postgresql", db.owner, owners[db.name], this.primary.host, db.name),
              ownerInNetwork: postgresUri("postgresql", db.owner, owners[db.name], this.primary.network, db.name),
              readonly: postgresUri("postgresql", POSTGRES_ROLES.readonly, readonly, this.primary.host, db.name),
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
