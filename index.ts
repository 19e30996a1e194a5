// trading-db-stack: reads the stack's config, builds the stack, exports what services need.
// The exports are the contract in components/outputs.ts: each is typed against it.
import * as pulumi from "@pulumi/pulumi";
import type { ConfigKeyName, SecretKeyName } from "./components/config";
import { INFLUXDB_TOKENS, influxBuckets, influxdbUrl } from "./components/influxdb-spec";
import { MONGO_DATABASE, MONGO_USERS } from "./components/mongo-spec";
import type { StackOutputs } from "./components/outputs";
import { POSTGRES_DATABASES, POSTGRES_ROLES } from "./components/postgres-spec";
import { REDIS_USERS } from "./components/redis-spec";
import { loadStackPlan, TradingDbStack } from "./components/stack";

type Exported<K extends keyof StackOutputs> = pulumi.Output<StackOutputs[K]>;

const config = new pulumi.Config();
// Secret keys are read as text here and become Pulumi secrets in components/secrets.ts.
const plan = loadStackPlan((key: ConfigKeyName | SecretKeyName) => config.get(key));
const stack = new TradingDbStack("trading", { plan });
const pg = stack.postgres;
const mongo = stack.mongo;
const redis = stack.redis;
const influx = stack.influxdb;

export const postgresPrimary: Exported<"postgresPrimary"> = pulumi.output({ container: pg.primary.container, host: pg.primary.host, network: pg.primary.network });
export const postgresReplicas: Exported<"postgresReplicas"> = pulumi.output(
  pg.replicas.map((replica, i) => ({
    container: replica.container,
    host: replica.host,
    network: replica.network,
    slot: replica.slot ?? "",
    streamingState: pg.replicaChecks[i].streamingState,
    markerLatencyMs: pg.replicaChecks[i].markerLatencyMs,
  })),
);
export const postgresDatabases: Exported<"postgresDatabases"> = pulumi.output(
  Object.fromEntries(
    POSTGRES_DATABASES.map((db) => [db.name, { owner: db.owner, readonlyUser: POSTGRES_ROLES.readonly, migrations: pg.init.migrations.apply((m) => m?.[db.name] ?? []) }]),
  ),
);
/** Connection URIs per database: owner (host and in-network), read-only, read-only per replica. Secret. */
export const postgresUris: Exported<"postgresUris"> = pg.uris;

export const mongoReplicaSet: Exported<"mongoReplicaSet"> = pulumi.output({
  name: mongo.replicaSetName,
  database: MONGO_DATABASE,
  users: { app: MONGO_USERS.app, readonly: MONGO_USERS.readonly },
  members: mongo.members,
  memberStates: mongo.init.memberStates,
  migrations: mongo.init.recordedMigrations,
});
/** app/readonly URIs: in-network (replicaSet=, authSource=admin) and host (directConnection=true to member 1). Secret. */
export const mongoUris: Exported<"mongoUris"> = mongo.uris;

export const redisServer: Exported<"redisServer"> = pulumi.output({ container: redis.container, host: redis.host, network: redis.network, user: REDIS_USERS.app });
/** REDIS_URL of the app user, in-network and host. Secret. */
export const redisUrls: Exported<"redisUrls"> = redis.urls;

export const influxdb: Exported<"influxdb"> = pulumi.output({
  container: influx.container,
  url: influxdbUrl(influx.host),
  urlInNetwork: influxdbUrl(influx.network),
  org: influx.org,
  bucket: influx.bucket,
  buckets: influxBuckets(plan.config.influxdb).map((b) => ({ name: b.name, retentionSeconds: b.retentionSeconds })),
  tokenScopes: Object.fromEntries(Object.entries(INFLUXDB_TOKENS).map(([key, t]) => [key, { description: t.description, actions: [...t.actions] }])),
});
/** The services' InfluxDB tokens: `read` and `write` (read and write on the stack's buckets). Secret. */
export const influxdbTokens: Exported<"influxdbTokens"> = influx.tokens as pulumi.Output<StackOutputs["influxdbTokens"]>;

/** pgAdmin and mongo-express URLs and login names; null when `adminTools` is off. */
export const adminTools: Exported<"adminTools"> = pulumi.output(stack.adminTools?.endpoints ?? null);
/** Their logins. Secret. */
export const adminToolLogins: Exported<"adminToolLogins"> = stack.adminTools?.logins ?? pulumi.output(null);
/** Superuser/root connections on the host, for `npm run verify` and operators. Secret. */
export const adminConnections: Exported<"adminConnections"> = stack.adminConnections;

/** Env maps with the seeds' variable names, per consumer, for containers on the app network and for host processes. Secret. */
export const serviceEnv: Exported<"serviceEnv"> = stack.serviceEnv;
/** Kubernetes: namespace, context and each consumer's env Secret; null on Docker. */
export const kubernetes: Exported<"kubernetes"> = pulumi.output(
  stack.kubernetes ? { namespace: stack.kubernetes.namespace, context: stack.kubernetes.context ?? null, consumerSecrets: stack.kubernetes.consumerSecrets } : null,
);
