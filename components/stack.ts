import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { loadMongoFiles, type MongoDatabaseFiles } from "../init/mongo/files";
import { loadDatabaseScripts, type DatabaseScripts } from "../init/postgres/scripts";
import { loadRedisSeeds, type RedisSeeds } from "../init/redis/files";
import { AdminTools } from "./admin-tools";
import { parseStackConfig, type CommonConfig, type ConfigLookup, type StackConfig } from "./config";
import { DockerNetworks } from "./docker/network";
import type { Engine } from "./engine";
import { KubernetesCluster } from "./kubernetes/context";
import { consumerSecrets } from "./kubernetes/consumer-secrets";
import { InfluxdbServer } from "./influxdb";
import { MongoReplicaSet } from "./mongo";
import { formerlyNamed } from "./names";
import { influxdbUrl } from "./influxdb-spec";
import { MONGO_DATABASE, MONGO_USERS, mongoDirectUri } from "./mongo-spec";
import { withoutKubeconfigContents, type AdminConnections } from "./outputs";
import { PostgresCluster } from "./postgres";
import { POSTGRES_DATABASES, postgresUri } from "./postgres-spec";
import { RedisServer } from "./redis";
import { REDIS_USERS, redisUrl } from "./redis-spec";
import { StackSecrets } from "./secrets";
import { mergeServiceEnv, type ServiceEnv } from "./service-env";
import { StackCertificates, verifyingCa, type ServerTls } from "./tls";

// The whole stack. loadStackPlan reads and checks everything from disk and config first, so bad
// input fails before a single resource is registered; TradingDbStack then only builds resources.

export interface StackPlan {
  config: StackConfig;
  postgresScripts: DatabaseScripts[];
  replicaEntrypoint: string;
  primaryEntrypoint: string;
  postgresHbaScript: string;
  mongoFiles: MongoDatabaseFiles;
  mongoEntrypoint: string;
  influxdbEntrypoint: string;
  redisSeeds: RedisSeeds;
  pgadminEntrypoint: string;
  mongoExpressEntrypoint: string;
}

/** Project root: the folder holding Pulumi.yaml (this file is components/stack.ts, or bin/components/stack.js). */
export function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Pulumi.yaml not found above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** `keysSet`: every key of the stack's config, namespaced (see parseStackConfig). */
export function loadStackPlan(lookup: ConfigLookup, keysSet: readonly string[] = [], root = projectRoot()): StackPlan {
  const config = parseStackConfig(lookup, keysSet);
  const postgresScripts = POSTGRES_DATABASES.map((db) => loadDatabaseScripts(root, db.name, `init/postgres/${db.folder}`));
  const script = (name: string) => fs.readFileSync(path.join(root, "init/scripts", name), "utf8");
  return {
    config,
    postgresScripts,
    replicaEntrypoint: script("postgres-replica-entrypoint.sh"),
    primaryEntrypoint: script("postgres-primary-entrypoint.sh"),
    postgresHbaScript: script("postgres-hba.sh"),
    mongoFiles: loadMongoFiles(root, MONGO_DATABASE, `init/mongo/${MONGO_DATABASE}`),
    mongoEntrypoint: script("mongo-entrypoint.sh"),
    influxdbEntrypoint: script("influxdb-entrypoint.sh"),
    redisSeeds: loadRedisSeeds(root),
    pgadminEntrypoint: script("pgadmin-entrypoint.sh"),
    mongoExpressEntrypoint: script("mongo-express-entrypoint.sh"),
  };
}

/** A part of the stack (PostgreSQL, the secrets, …): named `<stack>-<part>`; `<part>` alone in earlier releases. */
type StackPart = (part: string) => { name: string; opts: pulumi.ComponentResourceOptions };

export interface TradingDbStackArgs {
  plan: StackPlan;
}

export class TradingDbStack extends pulumi.ComponentResource {
  readonly postgres: PostgresCluster;
  readonly mongo: MongoReplicaSet;
  readonly redis: RedisServer;
  readonly influxdb: InfluxdbServer;
  /** pgAdmin and mongo-express; undefined when `adminTools` is off. */
  readonly adminTools: AdminTools | undefined;
  /** Every consumer's env map, in the network (Docker app network, or the cluster) and on the operator's machine. Secret. */
  readonly serviceEnv: pulumi.Output<ServiceEnv>;
  /** Superuser/root connections from the operator's machine, for `npm run verify` and operators. Secret. */
  readonly adminConnections: pulumi.Output<AdminConnections>;
  /** With `tls`: the stack's CA, which issues each server's certificate, and where clients read the CA. */
  readonly tls: ServerTls | undefined;
  /** Kubernetes: where the stack runs, and the Secret per consumer holding its env map. */
  readonly kubernetes: { namespace: string; context: string | undefined; consumerSecrets: Record<string, { namespace: string; name: string }> } | undefined;

  constructor(name: string, args: TradingDbStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:stack:TradingDbStack", name, {}, opts);
    const { config } = args.plan;
    for (const warning of config.warnings) void pulumi.log.warn(warning, this);
    const part: StackPart = (suffix) => ({ name: `${name}-${suffix}`, opts: { parent: this, ...formerlyNamed(suffix, `${name}-${suffix}`) } });
    const common: CommonConfig = { namePrefix: config.namePrefix, retainData: config.retainData, waitTimeoutSeconds: config.waitTimeoutSeconds };
    const secrets = new StackSecrets(
      part("secrets").name,
      { adminTools: config.adminTools !== undefined, userSecrets: config.userSecrets, kubernetes: config.platform === "kubernetes" },
      part("secrets").opts,
    );
    const engine = this.engine(config, common, secrets, part);
    this.tls = config.tls ? { certificates: new StackCertificates(part("tls").name, { namePrefix: config.namePrefix }, part("tls").opts), client: config.tls } : undefined;
    this.postgres = new PostgresCluster(
      part("postgres").name,
      {
        postgres: config.postgres,
        common,
        engine,
        secrets: secrets.postgres,
        scripts: args.plan.postgresScripts,
        replicaEntrypoint: args.plan.replicaEntrypoint,
        primaryEntrypoint: args.plan.primaryEntrypoint,
        hbaScript: args.plan.postgresHbaScript,
        adminToolsAccess: config.adminTools?.access,
        tls: this.tls,
      },
      part("postgres").opts,
    );
    this.mongo = new MongoReplicaSet(
      part("mongo").name,
      { mongo: config.mongo, common, engine, secrets: secrets.mongo, files: args.plan.mongoFiles, entrypoint: args.plan.mongoEntrypoint, adminToolsAccess: config.adminTools?.access, tls: this.tls },
      part("mongo").opts,
    );
    this.redis = new RedisServer(
      part("redis").name,
      { redis: config.redis, common, engine, secrets: secrets.redis, seeds: args.plan.redisSeeds, tls: this.tls },
      part("redis").opts,
    );
    this.influxdb = new InfluxdbServer(
      part("influxdb").name,
      { influxdb: config.influxdb, common, engine, secrets: secrets.influxdb, entrypoint: args.plan.influxdbEntrypoint, tls: this.tls },
      part("influxdb").opts,
    );
    this.adminTools =
      config.adminTools && secrets.adminTools && this.postgres.toolsLogin && secrets.mongo.adminTools
        ? new AdminTools(
            part("admin-tools").name,
            {
              tools: config.adminTools,
              common,
              engine,
              secrets: secrets.adminTools,
              postgresServers: [
                { name: "primary", endpoint: this.postgres.primary.network },
                ...this.postgres.replicas.map((r, i) => ({ name: `replica ${i + 1}`, endpoint: r.network })),
              ],
              postgresLogin: this.postgres.toolsLogin,
              mongoMembers: this.mongo.rsMembers,
              kubernetesPods: this.postgres.podLabels && this.mongo.podLabels ? { postgres: this.postgres.podLabels, mongo: this.mongo.podLabels } : undefined,
              mongoLogin: { user: MONGO_USERS.adminTools, password: secrets.mongo.adminTools },
              pgadminEntrypoint: args.plan.pgadminEntrypoint,
              mongoExpressEntrypoint: args.plan.mongoExpressEntrypoint,
              dependsOn: [this.postgres.init, this.mongo.init],
              ...verifyingCa(this.tls),
            },
            part("admin-tools").opts,
          )
        : undefined;
    this.serviceEnv = pulumi.secret(
      pulumi.all([this.postgres.env, this.mongo.env, this.redis.env, this.influxdb.env]).apply((parts) => mergeServiceEnv(parts)),
    );
    const access = {
      postgres: { primary: withoutKubeconfigContents(this.postgres.access.primary), replicas: this.postgres.access.replicas.map(withoutKubeconfigContents) },
      mongo: { members: this.mongo.access.map(withoutKubeconfigContents) },
      redis: withoutKubeconfigContents(this.redis.access),
      influxdb: withoutKubeconfigContents(this.influxdb.access),
    };
    this.adminConnections = pulumi.secret(
      pulumi
        .all([this.postgres.adminLogin.password, secrets.mongo.root, secrets.redis.admin, this.influxdb.operatorToken])
        .apply(([pgAdmin, root, redisAdmin, influxToken]) => ({
          postgres: {
            primary: postgresUri("postgresql", this.postgres.adminLogin.user, pgAdmin, this.postgres.primary.host, "postgres", config.tls),
            replicas: this.postgres.replicas.map((r) => postgresUri("postgresql", this.postgres.adminLogin.user, pgAdmin, r.host, "postgres", config.tls)),
          },
          mongo: { members: this.mongo.members.map((m) => mongoDirectUri({ user: MONGO_USERS.root, password: root, database: "admin" }, m.host, config.tls)) },
          redis: { url: redisUrl(REDIS_USERS.admin, redisAdmin, this.redis.host, config.tls) },
          influxdb: { url: influxdbUrl(this.influxdb.host, this.tls !== undefined), token: influxToken },
          // On Kubernetes the hosts above are local ports: tools open a port-forward to each pod first.
          ...(engine.kind === "kubernetes" ? { access } : {}),
        })),
    );
    this.kubernetes =
      engine.kind === "kubernetes"
        ? {
            namespace: engine.kubernetes.namespace,
            context: engine.kubernetes.config.context,
            consumerSecrets: consumerSecrets(engine.kubernetes, this.serviceEnv, name, this, this.tls?.certificates.caCertificate),
          }
        : undefined;
    this.registerOutputs({ postgres: this.postgres.primary, serviceEnv: this.serviceEnv, adminConnections: this.adminConnections });
  }

  /** Docker: the two networks. Kubernetes: the provider, the namespace and its default-deny policy. */
  private engine(config: StackConfig, common: CommonConfig, secrets: StackSecrets, part: StackPart): Engine {
    if (config.platform === "kubernetes" && config.kubernetes && secrets.rolloutKey) {
      const cluster = new KubernetesCluster(part("kubernetes").name, { config: config.kubernetes, common, rolloutKey: secrets.rolloutKey }, part("kubernetes").opts);
      return { kind: "kubernetes", kubernetes: cluster.context };
    }
    const labels = [
      { label: "com.trading-db-stack.project", value: "trading-db-stack" },
      { label: "com.trading-db-stack.stack", value: pulumi.getStack() },
    ];
    const networks = new DockerNetworks(part("networks").name, { namePrefix: config.namePrefix, labels }, part("networks").opts);
    return { kind: "docker", docker: { networks: { db: networks.db, app: networks.app }, labels, waitTimeoutSeconds: config.waitTimeoutSeconds, retainData: config.retainData } };
  }
}
