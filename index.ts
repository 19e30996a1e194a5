// trading-db-stack: reads the stack's config, builds the stack, exports what services need.
import * as pulumi from "@pulumi/pulumi";
import type { ConfigKeyName } from "./components/config";
import { INFLUXDB_TOKENS, influxBuckets, influxdbUrl } from "./components/influxdb-spec";
import { MONGO_DATABASE, MONGO_USERS } from "./components/mongo-spec";
import { POSTGRES_DATABASES, POSTGRES_ROLES } from "./components/postgres-spec";
import { REDIS_USERS } from "./components/redis-spec";
import { loadStackPlan, TradingDbStack } from "./components/stack";

const config = new pulumi.Config();
const plan = loadStackPlan((key: ConfigKeyName) => config.get(key));
const stack = new TradingDbStack("trading", { plan });
const pg = stack.postgres;
const mongo = stack.mongo;
const redis = stack.redis;
const influx = stack.influxdb;

export const postgresPrimary = { container: pg.primary.container, host: pg.primary.host, network: pg.primary.network };
export const postgresReplicas = pg.replicas.map((replica, i) => ({
  ...replica,
  streamingState: pg.replicaChecks[i].streamingState,
  markerLatencyMs: pg.replicaChecks[i].markerLatencyMs,
}));
export const postgresDatabases = Object.fromEntries(
  POSTGRES_DATABASES.map((db) => [db.name, { owner: db.owner, readonlyUser: POSTGRES_ROLES.readonly, migrations: pg.init.migrations.apply((m) => m?.[db.name] ?? []) }]),
);
/** Connection URIs per database: owner (host and in-network), read-only, read-only per replica. Secret. */
export const postgresUris = pg.uris;

export const mongoReplicaSet = {
  name: mongo.replicaSetName,
  database: MONGO_DATABASE,
  users: { app: MONGO_USERS.app, readonly: MONGO_USERS.readonly },
  members: mongo.members,
  memberStates: mongo.init.memberStates,
  migrations: mongo.init.recordedMigrations,
};
/** app/readonly URIs: in-network (replicaSet=, authSource=admin) and host (directConnection=true to member 1). Secret. */
export const mongoUris = mongo.uris;

export const redisServer = { container: redis.container, host: redis.host, network: redis.network, user: REDIS_USERS.app };
/** REDIS_URL of the app user, in-network and host. Secret. */
export const redisUrls = redis.urls;

export const influxdb = {
  container: influx.container,
  url: influxdbUrl(influx.host),
  urlInNetwork: influxdbUrl(influx.network),
  org: influx.org,
  bucket: influx.bucket,
  buckets: influxBuckets(plan.config.influxdb).map((b) => ({ name: b.name, retentionSeconds: b.retentionSeconds })),
  tokenScopes: INFLUXDB_TOKENS,
};
/** The services' InfluxDB tokens: `read` and `write` (read and write on the stack's buckets). Secret. */
export const influxdbTokens = influx.tokens;

/** pgAdmin and mongo-express URLs and login names; null when `adminTools` is off. */
export const adminTools = stack.adminTools?.endpoints ?? null;
/** Their logins. Secret. */
export const adminToolLogins = stack.adminTools?.logins ?? null;

/** Env maps with the seeds' variable names, per consumer, for containers on the app network and for host processes. Secret. */
export const serviceEnv = stack.serviceEnv;
