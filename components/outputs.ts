// The stack outputs: the one contract between this stack and the services that use it. index.ts
// exports exactly these (typed against them); tools/ (env, verify) read them back from
// `pulumi stack output --json --show-secrets`; a service reads them through a StackReference.
// Anything marked secret is a Pulumi secret: shown only with --show-secrets.
import * as pulumi from "@pulumi/pulumi";
import type { AdminToolEndpoints } from "./admin-tools";
import type { StackConfig } from "./config";
import { INFLUXDB_TOKENS, influxBuckets, influxdbUrl } from "./influxdb-spec";
import { MONGO_DATABASE, MONGO_USERS } from "./mongo-spec";
import { POSTGRES_DATABASES, POSTGRES_ROLES } from "./postgres-spec";
import { REDIS_USERS } from "./redis-spec";
import type { TradingDbStack } from "./stack";
import type { MongoMemberServer, MongoUris } from "./mongo";
import { isKubeconfigPath } from "../init/access";
import type { ServerAccess } from "./engine";
import type { PostgresUris } from "./postgres";
import type { Endpoint } from "./server-spec";
import type { ServiceEnv } from "./service-env";

export type { Endpoint, ServiceEnv };

export interface PostgresServerOutput {
  container: string;
  /** Where processes on the Docker host connect (127.0.0.1). */
  host: Endpoint;
  /** Where containers on the app network connect. */
  network: Endpoint;
}

export interface PostgresReplicaOutput extends PostgresServerOutput {
  /** Docker: its slot on the primary. Kubernetes: "" (the operator names the slots after its pods). */
  slot: string;
  /** As the replica check last saw it: "streaming". Kubernetes: null (the operator's readiness checks it, streaming within postgresReplicaMaxLagMb). */
  streamingState: string | null;
  markerLatencyMs: number | null;
}

/** Superuser/root connections, for verification and operators (secret). */
/**
 * A server's access as the outputs carry it: the pod, namespace and context, never a kubeconfig's
 * contents (its credentials). A kubeconfig given as a path stays (a path is no credential); given
 * as contents, the tools read $KUBECONFIG (else ~/.kube/config) instead, as kubectl does.
 */
export function withoutKubeconfigContents(access: ServerAccess): ServerAccess {
  if (!access.kubernetes?.kubeconfig || isKubeconfigPath(access.kubernetes.kubeconfig)) return access;
  const { kubeconfig: _contents, ...target } = access.kubernetes;
  return { ...access, kubernetes: target };
}

export interface AdminConnections {
  postgres: { primary: string; replicas: string[] };
  /** One direct (directConnection=true) root URI per member, on the host. */
  mongo: { members: string[] };
  redis: { url: string };
  influxdb: { url: string; token: string };
  /**
   * Kubernetes only: how to reach each server above, the pod to port-forward to. The URIs then
   * name local ports (127.0.0.1): `npm run verify` opens each port-forward and connects through it.
   */
  access?: {
    postgres: { primary: ServerAccess; replicas: ServerAccess[] };
    mongo: { members: ServerAccess[] };
    redis: ServerAccess;
    influxdb: ServerAccess;
  };
}

export interface StackOutputs {
  postgresPrimary: PostgresServerOutput;
  postgresReplicas: PostgresReplicaOutput[];
  postgresDatabases: Record<string, { owner: string; serviceUser: string; readonlyUser: string; migrations: string[] }>;
  /** Secret. */
  postgresUris: Record<string, PostgresUris>;
  mongoReplicaSet: {
    name: string;
    database: string;
    users: { app: string; readonly: string };
    members: MongoMemberServer[];
    memberStates: string[];
    migrations: string[];
  };
  /** Secret. */
  mongoUris: MongoUris;
  redisServer: { container: string; host: Endpoint; network: Endpoint; user: string };
  /** Secret. */
  redisUrls: { inNetwork: string; host: string };
  influxdb: {
    container: string;
    url: string;
    urlInNetwork: string;
    org: string;
    bucket: string;
    buckets: Array<{ name: string; retentionSeconds: number }>;
    tokenScopes: Record<string, { description: string; actions: readonly string[] }>;
  };
  /** Secret: `read`, and `write` (read and write). */
  influxdbTokens: Record<"read" | "write", string>;
  adminTools: AdminToolEndpoints | null;
  /** Secret. */
  adminToolLogins: { pgadmin: { email: string; password: string }; mongoExpress: { user: string; password: string } } | null;
  /** Secret. */
  adminConnections: AdminConnections;
  /** Secret: env maps with the seeds' variable names, per place (inNetwork, host) and consumer. */
  serviceEnv: ServiceEnv;
  /** Kubernetes: the namespace, the context, and per consumer the Secret holding its in-cluster env map (for envFrom). null on Docker. */
  kubernetes: { namespace: string; context: string | null; consumerSecrets: Record<string, { namespace: string; name: string }> } | null;
  /** With `tls`: the stack's CA certificate (PEM), and where the URIs expect clients to find it; null without. */
  tls: { caCertificate: string; caFile: string } | null;
}

export const STACK_OUTPUT_NAMES = [
  "postgresPrimary",
  "postgresReplicas",
  "postgresDatabases",
  "postgresUris",
  "mongoReplicaSet",
  "mongoUris",
  "redisServer",
  "redisUrls",
  "influxdb",
  "influxdbTokens",
  "adminTools",
  "adminToolLogins",
  "adminConnections",
  "serviceEnv",
  "kubernetes",
  "tls",
] as const satisfies ReadonlyArray<keyof StackOutputs>;

/** Every output, shaped from the stack's components: index.ts exports exactly these. */
export function stackOutputs(stack: TradingDbStack, config: StackConfig): { [K in keyof StackOutputs]: pulumi.Output<StackOutputs[K]> } {
  const pg = stack.postgres;
  const mongo = stack.mongo;
  const redis = stack.redis;
  const influx = stack.influxdb;
  return {
    postgresPrimary: pulumi.output({ container: pg.primary.container, host: pg.primary.host, network: pg.primary.network }),
    postgresReplicas: pulumi.output(
      pg.replicas.map((replica, i) => ({
        container: replica.container,
        host: replica.host,
        network: replica.network,
        slot: replica.slot ?? "",
        streamingState: pg.replicaChecks[i]?.streamingState ?? null,
        markerLatencyMs: pg.replicaChecks[i]?.markerLatencyMs ?? null,
      })),
    ),
    postgresDatabases: pulumi.output(
      Object.fromEntries(
        POSTGRES_DATABASES.map((db) => [db.name, { owner: db.owner, serviceUser: db.service, readonlyUser: POSTGRES_ROLES.readonly, migrations: pg.init.migrations.apply((m) => m?.[db.name] ?? []) }]),
      ),
    ),
    // Connection URIs per database: owner (host only), service role (host, in-network), read-only (host, in-network), read-only per replica. Secret.
    postgresUris: pg.uris,
    mongoReplicaSet: pulumi.output({
      name: mongo.replicaSetName,
      database: MONGO_DATABASE,
      users: { app: MONGO_USERS.app, readonly: MONGO_USERS.readonly },
      members: mongo.members,
      memberStates: mongo.init.memberStates,
      migrations: mongo.init.recordedMigrations,
    }),
    // app/readonly URIs: in-network (replicaSet=, authSource=admin) and host (directConnection=true to member 1). Secret.
    mongoUris: mongo.uris,
    redisServer: pulumi.output({ container: redis.container, host: redis.host, network: redis.network, user: REDIS_USERS.app }),
    // REDIS_URL of the app user, in-network and host. Secret.
    redisUrls: redis.urls,
    influxdb: pulumi.output({
      container: influx.container,
      url: influxdbUrl(influx.host, stack.tls !== undefined),
      urlInNetwork: influxdbUrl(influx.network, stack.tls !== undefined),
      org: influx.org,
      bucket: influx.bucket,
      buckets: influxBuckets(config.influxdb).map((b) => ({ name: b.name, retentionSeconds: b.retentionSeconds })),
      tokenScopes: Object.fromEntries(Object.entries(INFLUXDB_TOKENS).map(([key, t]) => [key, { description: t.description, actions: [...t.actions] }])),
    }),
    // The services' InfluxDB tokens: `read` and `write` (read and write on the stack's buckets). Secret.
    influxdbTokens: influx.tokens as pulumi.Output<StackOutputs["influxdbTokens"]>,
    // pgAdmin and mongo-express URLs and login names; null when `adminTools` is off.
    adminTools: pulumi.output(stack.adminTools?.endpoints ?? null),
    // Their logins. Secret.
    adminToolLogins: stack.adminTools?.logins ?? pulumi.output(null),
    // Superuser/root connections from the operator's machine, for `npm run verify` and operators. Secret.
    adminConnections: stack.adminConnections,
    // Env maps with the seeds' variable names, per consumer, in the network and on the operator's machine. Secret.
    serviceEnv: stack.serviceEnv,
    // Kubernetes: namespace, context and each consumer's env Secret; null on Docker.
    kubernetes: pulumi.output(
      stack.kubernetes ? { namespace: stack.kubernetes.namespace, context: stack.kubernetes.context ?? null, consumerSecrets: stack.kubernetes.consumerSecrets } : null,
    ),
    // With tls: the CA certificate to verify every server against, and the path the URIs name; null without.
    tls: stack.tls ? pulumi.output({ caCertificate: stack.tls.certificates.caCertificate, caFile: stack.tls.client.caFile }) : pulumi.output(null),
  };
}
