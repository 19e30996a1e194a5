// trading-db-stack: reads the stack's config, builds the stack, exports what services need.
import * as pulumi from "@pulumi/pulumi";
import type { ConfigKeyName } from "./components/config";
import { POSTGRES_DATABASES, POSTGRES_ROLES } from "./components/postgres-spec";
import { loadStackPlan, TradingDbStack } from "./components/stack";

const config = new pulumi.Config();
const plan = loadStackPlan((key: ConfigKeyName) => config.get(key));
const stack = new TradingDbStack("trading", { plan });
const pg = stack.postgres;

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
/** Env maps with the seeds' variable names, per consumer, for containers on the app network and for host processes. Secret. */
export const serviceEnv = pg.env;
