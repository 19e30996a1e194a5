// The stack outputs: the one contract between this stack and the services that use it. index.ts
// exports exactly these (typed against them); tools/ (env, verify) read them back from
// `pulumi stack output --json --show-secrets`; a service reads them through a StackReference.
// Anything marked secret is a Pulumi secret: shown only with --show-secrets.
import type { AdminToolEndpoints } from "./admin-tools";
import type { MongoMemberServer, MongoUris } from "./mongo";
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
  slot: string;
  /** As the replica check last saw it: "streaming". */
  streamingState: string;
  markerLatencyMs: number;
}

/** Superuser/root connections, for verification and operators (secret). */
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
  postgresDatabases: Record<string, { owner: string; readonlyUser: string; migrations: string[] }>;
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
  kubernetes: { namespace: string; context: string | null; consumerSecrets: Record<string, string> } | null;
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
] as const satisfies ReadonlyArray<keyof StackOutputs>;
