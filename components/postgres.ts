import * as pulumi from "@pulumi/pulumi";
import { PostgresInit, PostgresMajorGuard, PostgresReplicaCheck, PostgresReplicationSlot } from "../init/postgres/resources";
import { scriptsChecksum, type DatabaseScripts } from "../init/postgres/scripts";
import type { AdminToolsAccess, CommonConfig, PostgresConfig } from "./config";
import { LOOPBACK } from "./config";
import { hookAccess, placeServer, serverTlsSecrets, serverImage, type Engine } from "./engine";
import { cloudNativePg, instanceLabels, selectorText } from "./kubernetes/cloudnative-pg";
import type { Labels } from "./kubernetes/network-policy";
import type { KubernetesContext } from "./kubernetes/context";
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
import type { ServerAccess } from "../init/access";
import type { ServiceEnvPart } from "./service-env";
import { verifyingCa, type ServerTls } from "./tls";

// PostgreSQL primary with N streaming replicas, and the hooks that set it up.
// - Docker: each server a container.
//     primary (healthy) -> init hook (roles, databases, migrations, seeds)
//           -> per replica: slot -> replica (healthy) -> streaming check
// - Kubernetes: one CloudNativePG Cluster of 1 + N instances (components/kubernetes/cloudnative-pg.ts);
//   the operator makes the roles and databases, fails over and keeps the slots;
//     role Secrets -> Cluster (Ready) -> Databases (applied) -> init hook (migrations, seeds, grants),
//   which reaches whichever pod is primary when it runs.

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
  /** Text of init/scripts/postgres-hba.sh. */
  hbaScript: string;
  /** What the admin tools' role may do, when they are deployed. */
  adminToolsAccess?: AdminToolsAccess;
  /** With `tls`: the stack's CA issues each server's certificate; clients read the CA from `client.caFile`. */
  tls?: ServerTls;
}

export interface PostgresUris {
  /** The owner on the primary, from the operator's machine (the only place it logs in from, with the server itself). */
  owner: string;
  /** The service role on the primary, from the operator's machine. */
  service: string;
  /** The service role on the primary, for the services. */
  serviceInNetwork: string;
  /** trading_readonly on the primary, from the operator's machine. */
  readonly: string;
  /** trading_readonly on the replicas, for the services (the primary when there is none). */
  readonlyInNetwork: string;
  /** trading_readonly on each replica, from the operator's machine. */
  replicas: string[];
}

export interface PostgresServer {
  /** Docker: the container; Kubernetes: the Cluster (the operator names and moves the pods). */
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
  /** Docker: each replica's streaming check. On Kubernetes the operator's readiness (streaming within a lag) checks them. */
  readonly replicaChecks: PostgresReplicaCheck[];
  /** Kubernetes: the Service on every replica (the operator's -ro); undefined on Docker or without replicas. */
  readonly readOnlyEndpoint: Endpoint | undefined;
  /** How the hooks and `npm run verify` reach the primary and each replica. */
  readonly access: { primary: ServerAccess; replicas: ServerAccess[] };
  /** Kubernetes: the labels of the instances' pods (for the NetworkPolicies of those that reach them). */
  readonly podLabels: Labels | undefined;
  /** Whom `npm run verify` and operators log in as: the superuser on Docker (from the host only); on Kubernetes the monitoring role (the operator keeps the superuser off the network). */
  readonly adminLogin: { user: string; password: pulumi.Output<string> };
  /** Whom pgAdmin logs in as (a container, so never the superuser): on Docker its own role (pg_read_all_data); on Kubernetes the monitoring role. */
  readonly toolsLogin: { user: string; password: pulumi.Output<string> } | undefined;
  /** Connection URIs per database (secret). */
  readonly uris: pulumi.Output<Record<string, PostgresUris>>;
  /** Env maps with each seed's variable names, for containers on the app network and for host processes (secret). */
  readonly env: pulumi.Output<ServiceEnvPart>;

  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:postgres:Cluster", name, {}, opts);
    const { engine, secrets } = args;
    const ownerPasswords = pulumi.all(secrets.owners) as pulumi.Output<Record<string, string>>;
    const servicePasswords = pulumi.all(secrets.services) as pulumi.Output<Record<string, string>>;
    const placed = engine.kind === "kubernetes" ? onCloudNativePg(this, name, args, ownerPasswords, engine.kubernetes) : inContainers(this, name, args, ownerPasswords, engine);
    this.primary = placed.primary;
    this.replicas = placed.replicas;
    this.init = placed.init;
    this.replicaChecks = placed.replicaChecks;
    this.readOnlyEndpoint = placed.readOnlyEndpoint;
    this.access = placed.access;
    this.podLabels = placed.podLabels;
    this.adminLogin = placed.adminLogin;
    this.toolsLogin = placed.toolsLogin;
    const replicas = this.replicas;

    // Reads that tolerate lag go to the replicas: the read-only Service on Kubernetes, replica 1 on Docker.
    const readOnlyNetwork = this.readOnlyEndpoint ?? replicas[0]?.network ?? this.primary.network;
    const tls = args.tls?.client;
    this.uris = pulumi.secret(
      pulumi.all([ownerPasswords, servicePasswords, secrets.readonly]).apply(([owners, services, readonly]) =>
        Object.fromEntries(
          POSTGRES_DATABASES.map((db) => [
            db.name,
            {
              owner: postgresUri("postgresql", db.owner, owners[db.name], this.primary.host, db.name, tls),
              service: postgresUri("postgresql", db.service, services[db.name], this.primary.host, db.name, tls),
              serviceInNetwork: postgresUri("postgresql", db.service, services[db.name], this.primary.network, db.name, tls),
              readonly: postgresUri("postgresql", POSTGRES_ROLES.readonly, readonly, this.primary.host, db.name, tls),
              readonlyInNetwork: postgresUri("postgresql", POSTGRES_ROLES.readonly, readonly, readOnlyNetwork, db.name, tls),
              replicas: replicas.map((r) => postgresUri("postgresql", POSTGRES_ROLES.readonly, readonly, r.host, db.name, tls)),
            },
          ]),
        ),
      ),
    );
    const platform = databaseNamed("trading_platform");
    const results = databaseNamed("trading_results");
    // The services connect as the service roles: DML on their tables, nothing on the schema.
    const envFor = (services: Record<string, string>, where: "host" | "network") => ({
      "advanced-trading-platform": advancedTradingPlatformPostgresEnv(platform.service, services[platform.name], this.primary[where], tls),
      "trading-simulation": tradingSimulationPostgresEnv(results.service, services[results.name], this.primary[where], tls),
    });
    this.env = pulumi.secret(servicePasswords.apply((services) => ({ inNetwork: envFor(services, "network"), host: envFor(services, "host") })));

    this.registerOutputs({ primary: this.primary, replicas: this.replicas, uris: this.uris, env: this.env });
  }
}

/** Where and how the servers run, as the component exposes them. */
interface Placement {
  podLabels?: Labels;
  primary: PostgresServer;
  replicas: PostgresServer[];
  init: PostgresInit;
  replicaChecks: PostgresReplicaCheck[];
  readOnlyEndpoint: Endpoint | undefined;
  access: { primary: ServerAccess; replicas: ServerAccess[] };
  adminLogin: { user: string; password: pulumi.Output<string> };
  toolsLogin: { user: string; password: pulumi.Output<string> } | undefined;
}

function initDatabases(args: PostgresClusterArgs) {
  return POSTGRES_DATABASES.map((db) => {
    const scripts = args.scripts.find((s) => s.database === db.name);
    if (!scripts) throw new Error(`no migrations loaded for database ${db.name}`);
    return { name: db.name, owner: db.owner, service: db.service, privateColumns: db.privateColumns, migrations: scripts.migrations, seeds: scripts.seeds };
  });
}

/** Docker (and a Docker host for prod): the stack's own primary and replica containers, slots and checks. */
function inContainers(parent: pulumi.Resource, name: string, args: PostgresClusterArgs, ownerPasswords: pulumi.Output<Record<string, string>>, engine: Engine): Placement {
  const { postgres: pg, common, secrets } = args;
  const names = postgresNames(common.namePrefix);
  const image = serverImage(engine, `${name}-image`, pg.image, parent);
  // Another major than the data's is refused before the primary is replaced.
  const major = new PostgresMajorGuard(`${name}-data-major`, { majorVersion: pg.majorVersion, image: pg.image, volume: names.primaryVolume }, { parent });
  // With TLS: each server's certificate holds every name it is reached by, and each hook verifies it against the CA.
  const tlsFiles = (server: string, names: { service: string; internalAlias?: string; container: string }) => serverTlsSecrets(engine, args.tls, server, names, parent);
  const hookTls = verifyingCa(args.tls);
  const primary = placeServer(
    engine,
    {
      spec: primarySpec(pg, names.primaryHost, names.primaryInternalHost, args.primaryEntrypoint, args.hbaScript, args.tls !== undefined),
      secrets: { superuser: secrets.superuser, ...tlsFiles("postgres-primary", { service: names.primaryHost, internalAlias: names.primaryInternalHost, container: names.primaryContainer }) },
      hostPort: pg.port,
      docker: { image, resourceNames: { container: `${name}-primary`, volumes: { data: `${name}-data` } }, containerName: names.primaryContainer, volumeNames: { data: names.primaryVolume } },
      dependsOn: [major],
    },
    parent,
  );

  const init = new PostgresInit(
    `${name}-init`,
    {
      ...hookAccess(primary.access),
      ...hookTls,
      superuser: POSTGRES_ROLES.superuser,
      superuserPassword: secrets.superuser,
      replicationRole: POSTGRES_ROLES.replication,
      replicationPassword: secrets.replication,
      readonlyRole: POSTGRES_ROLES.readonly,
      readonlyPassword: secrets.readonly,
      adminToolsRole: POSTGRES_ROLES.adminTools,
      ...(secrets.adminTools ? { adminToolsPassword: secrets.adminTools } : {}),
      adminToolsGrants: ["pg_read_all_data", ...(args.adminToolsAccess === "read-write" ? ["pg_write_all_data"] : [])],
      ownerPasswords,
      servicePasswords: pulumi.all(secrets.services),
      databases: initDatabases(args),
      connectTimeoutSeconds: common.waitTimeoutSeconds,
      lockTimeoutSeconds: INIT_LOCK_TIMEOUT_SECONDS,
      scriptsChecksum: scriptsChecksum(args.scripts),
      serverId: primary.revision,
    },
    { parent, dependsOn: [primary.resource] },
  );

  // Replicas: each its own container, each with its own slot.
  const replicas: PostgresServer[] = [];
  const replicaAccess: ServerAccess[] = [];
  const replicaChecks: PostgresReplicaCheck[] = [];
  for (let n = 1; n <= pg.replicas; n++) {
    const slotName = names.replicaSlot(n);
    const slot = new PostgresReplicationSlot(
      `${name}-replica-${n}-slot`,
      { ...hookAccess(primary.access), ...hookTls, superuser: POSTGRES_ROLES.superuser, superuserPassword: secrets.superuser, slotName, connectTimeoutSeconds: common.waitTimeoutSeconds },
      // After init: the replica's base backup needs the replication role.
      { parent, dependsOn: [init] },
    );
    const replica = placeServer(
      engine,
      {
        spec: replicaSpec(pg, names.replicaHost(n), n, names.primaryInternalHost, slotName, args.replicaEntrypoint, args.hbaScript, args.tls !== undefined),
        secrets: { replication: secrets.replication, ...tlsFiles(`postgres-replica-${n}`, { service: names.replicaHost(n), container: names.replicaContainer(n) }) },
        hostPort: pg.replicaFirstPort + n - 1,
        docker: {
          image,
          resourceNames: { container: `${name}-replica-${n}`, volumes: { data: `${name}-replica-${n}-data` } },
          containerName: names.replicaContainer(n),
          volumeNames: { data: names.replicaVolume(n) },
        },
        dependsOn: [primary.resource, slot],
      },
      parent,
    );
    replicaAccess.push(replica.access);
    replicaChecks.push(
      new PostgresReplicaCheck(
        `${name}-replica-${n}-check`,
        {
          primaryHost: primary.access.host,
          primaryPort: primary.access.port,
          replicaHost: replica.access.host,
          replicaPort: replica.access.port,
          ...hookTls,
          superuser: POSTGRES_ROLES.superuser,
          superuserPassword: secrets.superuser,
          slotName,
          timeoutSeconds: REPLICA_CHECK_TIMEOUT_SECONDS,
          replicaId: replica.revision,
        },
        { parent, dependsOn: [replica.resource] },
      ),
    );
    replicas.push({ container: replica.name, slot: slotName, host: replica.host, network: replica.network });
  }
  return {
    primary: { container: primary.name, host: primary.host, network: primary.network },
    replicas,
    init,
    replicaChecks,
    readOnlyEndpoint: undefined,
    access: { primary: primary.access, replicas: replicaAccess },
    adminLogin: { user: POSTGRES_ROLES.superuser, password: secrets.superuser },
    toolsLogin: secrets.adminTools ? { user: POSTGRES_ROLES.adminTools, password: secrets.adminTools } : undefined,
  };
}

/** Kubernetes: one CloudNativePG Cluster; the hook follows the primary by its label. */
function onCloudNativePg(parent: pulumi.Resource, name: string, args: PostgresClusterArgs, ownerPasswords: pulumi.Output<Record<string, string>>, context: KubernetesContext): Placement {
  const { postgres: pg, common, secrets } = args;
  const monitor = secrets.monitor;
  if (!monitor) throw new Error("PostgreSQL on Kubernetes needs the monitoring role's password (StackSecrets with kubernetes)");
  const passwords: Record<string, pulumi.Input<string>> = { [POSTGRES_ROLES.readonly]: secrets.readonly, [POSTGRES_ROLES.monitor]: monitor };
  for (const db of POSTGRES_DATABASES) {
    passwords[db.owner] = secrets.owners[db.name];
    passwords[db.service] = secrets.services[db.name];
  }
  const cnpg = cloudNativePg({ pg, passwords, resourceName: name, context, adminTools: args.adminToolsAccess !== undefined, certificates: args.tls?.certificates }, { parent });

  const { config } = context;
  const target = (role: "primary" | "replica", index?: number): ServerAccess => ({
    host: role === "primary" ? cnpg.services.rw.host : cnpg.services.ro.host,
    port: POSTGRES_CONTAINER_PORT,
    kubernetes: {
      namespace: context.namespace,
      selector: { labels: selectorText(instanceLabels(cnpg.name, role)), ...(index ? { index } : {}) },
      ...(config.context ? { context: config.context } : {}),
      ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
    },
  });
  const primaryAccess = target("primary");
  const init = new PostgresInit(
    `${name}-init`,
    {
      ...hookAccess(primaryAccess),
      // The operator made the roles and databases: the hook logs in as each owner only.
      managedBy: "cloudnative-pg",
      ...verifyingCa(args.tls),
      readonlyRole: POSTGRES_ROLES.readonly,
      ownerPasswords,
      databases: initDatabases(args),
      connectTimeoutSeconds: common.waitTimeoutSeconds,
      lockTimeoutSeconds: INIT_LOCK_TIMEOUT_SECONDS,
      scriptsChecksum: scriptsChecksum(args.scripts),
      serverId: cnpg.revision,
    },
    { parent, dependsOn: cnpg.ready },
  );
  const local = (port: number) => ({ host: LOOPBACK, port });
  return {
    primary: { container: cnpg.name, host: local(pg.port), network: cnpg.services.rw },
    // Replica n: the n-th ready replica pod in name order (the operator names them <cluster>-<serial>).
    replicas: Array.from({ length: pg.replicas }, (_, i) => ({ container: `${cnpg.name} replica ${i + 1}`, host: local(pg.replicaFirstPort + i), network: cnpg.services.ro })),
    init,
    replicaChecks: [],
    readOnlyEndpoint: pg.replicas > 0 ? cnpg.services.ro : undefined,
    access: { primary: primaryAccess, replicas: Array.from({ length: pg.replicas }, (_, i) => target("replica", i)) },
    podLabels: instanceLabels(cnpg.name),
    adminLogin: { user: POSTGRES_ROLES.monitor, password: monitor },
    toolsLogin: { user: POSTGRES_ROLES.monitor, password: monitor },
  };
}

function databaseNamed(name: string) {
  const db = POSTGRES_DATABASES.find((d) => d.name === name);
  if (!db) throw new Error(`unknown database ${name}`);
  return db;
}
