// Typed, validated stack configuration.
//
// Every key is declared once in CONFIG_KEYS (type, default, description); Pulumi.yaml carries the
// same schema for the CLI and a unit test keeps the two equal. parseStackConfig is pure: it takes a
// lookup function so tests can feed it plain objects, and it reports every bad key at once, before
// any resource is created.

import { compareVersions, knownVulnerabilities, SERVED_VERSIONS, type ServerImage, tagVersion, versionText } from "./image-versions";
import * as net from "net";
import { POSTGRES_MAX_REPLICAS, sharedBuffersMb } from "./postgres-spec";
import type { Consumer } from "./service-env";

export const PROJECT = "trading-db-stack";

/** Host ports are published on this address only: the databases are never open to the network. */
export const LOOPBACK = "127.0.0.1";

type KeyType = "string" | "integer" | "boolean";

export interface ConfigKey {
  type: KeyType;
  default: string | number | boolean;
  description: string;
}

export const CONFIG_KEYS = {
  platform: {
    type: "string",
    default: "docker",
    description: "Where the stack runs. Allowed: docker (containers on one Docker engine), kubernetes (StatefulSets in a namespace of a cluster).",
  },
  kubernetesKubeconfig: {
    type: "string",
    default: "",
    description: "Kubernetes: kubeconfig path or contents, as Pulumi's Kubernetes provider takes it. Empty: $KUBECONFIG or ~/.kube/config.",
  },
  kubernetesContext: {
    type: "string",
    default: "",
    description: "Kubernetes: the kubeconfig context to deploy to. Empty: the current context.",
  },
  kubernetesNamespace: {
    type: "string",
    default: "trading-db",
    description: "Kubernetes: namespace of every object of the stack (a DNS label: lowercase letters, digits and -).",
  },
  kubernetesCreateNamespace: {
    type: "boolean",
    default: true,
    description: "Kubernetes: create the namespace (true) or use one that exists (false).",
  },
  kubernetesClusterDomain: {
    type: "string",
    default: "cluster.local",
    description: "Kubernetes: the cluster's DNS domain, in the names servers and services reach each other by (<service>.<namespace>.svc.<domain>).",
  },
  kubernetesStorageClass: {
    type: "string",
    default: "",
    description: "Kubernetes: storage class of the data volumes, a DNS subdomain (RFC 1123: at most 253 lowercase letters, digits, - and ., each dot-separated part starting and ending with a letter or digit). Empty: the cluster's default class.",
  },
  kubernetesClientLabel: {
    type: "string",
    default: "trading-db-stack/client=true",
    description: "Kubernetes: label (key=value) of the consumers' pods, in their namespaces (kubernetesPlatformNamespace, kubernetesSimulationNamespace), that NetworkPolicies let reach the databases their consumer uses.",
  },
  kubernetesPlatformNamespace: {
    type: "string",
    default: "trading-platform",
    description: "Kubernetes: namespace of advanced-trading-platform's pods (a DNS label, not kubernetesNamespace): its env Secret is made there, and its pods with kubernetesClientLabel may reach PostgreSQL, Redis and InfluxDB.",
  },
  kubernetesSimulationNamespace: {
    type: "string",
    default: "trading-simulation",
    description: "Kubernetes: namespace of trading-simulation's pods (a DNS label, not kubernetesNamespace): its env Secret is made there, and its pods with kubernetesClientLabel may reach PostgreSQL and MongoDB.",
  },
  kubernetesCreateConsumerNamespaces: {
    type: "boolean",
    default: true,
    description: "Kubernetes: create the consumers' namespaces when missing (never deleted by a destroy: they hold the services), or (false) use ones that exist.",
  },
  kubernetesApiServerCidr: {
    type: "string",
    default: "",
    description: "Kubernetes: the API server's addresses, one CIDR or several comma-separated (e.g. 10.0.0.1/32,10.0.0.2/32), the only place the PostgreSQL instances' manager may reach on ports 443 and 6443. Empty: those ports on any address.",
  },
  kubernetesPostgresImage: {
    type: "string",
    default: "ghcr.io/cloudnative-pg/postgresql:18.7-minimal-trixie",
    description: "Kubernetes: CloudNativePG's PostgreSQL operand image, a pinned tag that starts with the version (15 or newer), e.g. ghcr.io/cloudnative-pg/postgresql:18.7-minimal-trixie. A higher major is upgraded in place by the operator.",
  },
  kubernetesOperatorNamespace: {
    type: "string",
    default: "cnpg-system",
    description: "Kubernetes: the namespace the CloudNativePG operator runs in; its pods may reach the PostgreSQL instances.",
  },
  postgresStorageGb: {
    type: "integer",
    default: 20,
    description: "Kubernetes: size in GiB of each PostgreSQL data volume, primary and replicas (1-65536).",
  },
  mongoStorageGb: {
    type: "integer",
    default: 20,
    description: "Kubernetes: size in GiB of each MongoDB member's data volume (1-65536).",
  },
  redisStorageGb: {
    type: "integer",
    default: 5,
    description: "Kubernetes: size in GiB of the Redis data volume (1-65536).",
  },
  influxdbStorageGb: {
    type: "integer",
    default: 20,
    description: "Kubernetes: size in GiB of the InfluxDB data volume (1-65536).",
  },
  namePrefix: {
    type: "string",
    default: "trading",
    description:
      "Prefix of container, network and volume names (trading -> trading-postgres, trading_postgres_data). Lowercase letters and digits.",
  },
  retainData: {
    type: "boolean",
    default: false,
    description: "Keep the data volumes when the stack is destroyed (retainOnDelete). Turn on for any data you care about.",
  },
  adminTools: {
    type: "boolean",
    default: false,
    description: "Deploy pgAdmin and mongo-express, with generated logins, published on 127.0.0.1 only.",
  },
  waitTimeoutSeconds: {
    type: "integer",
    default: 180,
    description: "How long `pulumi up` waits for a container to report healthy before failing (10-3600).",
  },
  postgresImage: {
    type: "string",
    default: "postgres:18.7",
    description: "PostgreSQL image with a pinned tag that starts with the version (15 or newer), e.g. postgres:18.7. `latest` is refused; a version below a known fix is named in a warning.",
  },
  postgresPort: {
    type: "integer",
    default: 5432,
    description: "Host port of the PostgreSQL primary, published on 127.0.0.1 (1024-65535).",
  },
  postgresReplicas: {
    type: "integer",
    default: 1,
    description: "Number of streaming read replicas (0-5).",
  },
  postgresReplicaFirstPort: {
    type: "integer",
    default: 5433,
    description: "Host port of replica 1; replica N is published on this port + N - 1, on 127.0.0.1.",
  },
  postgresMemoryMb: {
    type: "integer",
    default: 1024,
    description: "Memory limit of each PostgreSQL container in MiB (256-262144); shared_buffers is a quarter of it.",
  },
  postgresCpus: {
    type: "string",
    default: "1",
    description: "CPU limit of each PostgreSQL container, a decimal number of CPUs (e.g. 0.5, 2).",
  },
  postgresMaxConnections: {
    type: "integer",
    default: 100,
    description: "max_connections of the primary and replicas (20-5000), at most what postgresMemoryMb holds: shared_buffers (a quarter of it) plus 2 MiB per connection.",
  },
  postgresMaxSlotWalKeepMb: {
    type: "integer",
    default: 1024,
    description: "max_slot_wal_keep_size in MiB: the most WAL a lagging or lost replica may hold back on the primary (64-10485760). Kubernetes: at most half of the data volume (postgresStorageGb), so the WAL fits beside the data.",
  },
  postgresReplicaMaxLagMb: {
    type: "integer",
    default: 64,
    description: "Kubernetes: a replica serves reads (is ready, behind the -ro Service) only while it streams and has at most this many MiB of received WAL not yet replayed (1-1048576).",
  },
  mongoImage: {
    type: "string",
    default: "mongo:8.0.32",
    description: "MongoDB image with a pinned tag that starts with the version (6.0 or newer: the healthcheck uses mongosh), e.g. mongo:8.0.32. `latest` is refused; a version below a known fix is named in a warning.",
  },
  mongoMembers: {
    type: "integer",
    default: 3,
    description: "Members of the MongoDB replica set: 1, 3, 5 or 7 (odd, so a majority can always elect a primary).",
  },
  mongoFirstPort: {
    type: "integer",
    default: 27017,
    description: "Host port of replica-set member 1; member N is published on this port + N - 1, on 127.0.0.1.",
  },
  mongoMemoryMb: {
    type: "integer",
    default: 1024,
    description: "Memory limit of each MongoDB member in MiB (512-262144); the WiredTiger cache gets half of it less 256 MiB.",
  },
  mongoCpus: {
    type: "string",
    default: "1",
    description: "Kubernetes: CPU request and limit of each MongoDB member, a decimal number of CPUs (e.g. 0.5, 2). Docker sets no CPU limit on MongoDB.",
  },
  mongoTlsMode: {
    type: "string",
    default: "requireTLS",
    description: "With tls: mongod's --tlsMode, requireTLS (TLS only, clients and members). allowTLS, then preferTLS are the steps of turning tls on or off for a replica set that is up, one `up` each (docs/upgrades.md): a member rolled straight to requireTLS refuses the clear connections of the members not rolled yet.",
  },
  mongoElectionTimeoutMs: {
    type: "integer",
    default: 10000,
    description: "Replica-set electionTimeoutMillis (500-60000): how soon a new primary is elected. Low values bring dev up fast; keep MongoDB's 10000 where load can delay heartbeats.",
  },
  redisImage: {
    type: "string",
    default: "redis:7.4.11",
    description: "Redis image with a pinned tag that starts with the version (6.2 or newer: the ACL file's channel rules), e.g. redis:7.4.11. `latest` is refused; a version below a known fix is named in a warning.",
  },
  redisPort: {
    type: "integer",
    default: 6379,
    description: "Host port of Redis, published on 127.0.0.1 (1024-65535).",
  },
  redisMaxMemoryMb: {
    type: "integer",
    default: 256,
    description: "Redis maxmemory in MiB (16-262144). The container may use twice this plus 64 MiB, for AOF rewrites.",
  },
  redisCpus: {
    type: "string",
    default: "0.5",
    description: "Kubernetes: CPU request and limit of Redis, a decimal number of CPUs. Docker sets no CPU limit on Redis.",
  },
  redisMaxMemoryPolicy: {
    type: "string",
    default: "volatile-lru",
    description: "Redis maxmemory-policy: what goes when maxmemory is reached. volatile-* evict only keys with a TTL (price:* caches) and keep config:* and sessions; allkeys-* evict anything; noeviction refuses writes.",
  },
  influxdbImage: {
    type: "string",
    default: "influxdb:2.7.12",
    description: "InfluxDB image with a pinned 2.x tag from 2.1 on (influxd recovery), e.g. influxdb:2.7.12. `latest` (InfluxDB 3) and other majors are refused.",
  },
  influxdbPort: {
    type: "integer",
    default: 8086,
    description: "Host port of InfluxDB, published on 127.0.0.1 (1024-65535).",
  },
  influxdbMemoryMb: {
    type: "integer",
    default: 1024,
    description: "Kubernetes: memory request and limit of InfluxDB in MiB (256-262144). Docker sets no memory limit on InfluxDB.",
  },
  influxdbCpus: {
    type: "string",
    default: "1",
    description: "Kubernetes: CPU request and limit of InfluxDB, a decimal number of CPUs. Docker sets no CPU limit on InfluxDB.",
  },
  influxdbRetentionDays: {
    type: "integer",
    default: 30,
    description: "Retention of the raw buckets (market-data, trades, performance, system_metrics) in days (0 keeps data forever, else 1-36500).",
  },
  influxdbDownsampledRetentionDays: {
    type: "integer",
    default: 365,
    description: "Retention of the hourly downsampled market-data bucket in days (0 keeps data forever, else 1-36500).",
  },
  pgadminImage: {
    type: "string",
    default: "dpage/pgadmin4:9.17",
    description: "pgAdmin image with a pinned tag (e.g. dpage/pgadmin4:9.17); used when adminTools is true.",
  },
  pgadminPort: {
    type: "integer",
    default: 5050,
    description: "Host port of pgAdmin, published on 127.0.0.1 (1024-65535).",
  },
  tls: {
    type: "boolean",
    default: false,
    description: "Encrypt and verify every connection with the stack's own CA (a certificate per server, renewed by `pulumi up` 30 days before it expires): every server takes TLS only (MongoDB's members among themselves too), and every URI, hook, tool and admin tool verifies it.",
  },
  tlsCaFile: {
    type: "string",
    default: "/etc/trading-db-stack/ca.crt",
    description: "With tls: where clients find the stack's CA certificate (the tls output's caCertificate), an absolute path; every URI and env map names it (sslrootcert, PGSSLROOTCERT, ssl_ca_certs, tlsCAFile, INFLUXDB_SSL_CA_CERT).",
  },
  adminToolsAccess: {
    type: "string",
    default: "read-only",
    description: "What pgAdmin and mongo-express may do in the databases: read-only (pg_read_all_data, readAnyDatabase) or read-write (also pg_write_all_data, readWriteAnyDatabase); never a superuser.",
  },
  mongoExpressImage: {
    type: "string",
    default: "mongo-express:1.0.2-20-alpine3.19",
    description: "mongo-express image with a pinned 1.x tag (e.g. mongo-express:1.0.2-20-alpine3.19); used when adminTools is true.",
  },
  mongoExpressPort: {
    type: "integer",
    default: 8081,
    description: "Host port of mongo-express, published on 127.0.0.1 (1024-65535).",
  },
} as const satisfies Record<string, ConfigKey>;

export type ConfigKeyName = keyof typeof CONFIG_KEYS;

/**
 * Credentials a user may choose with `pulumi config set --secret <key> <value>`; each one that is
 * not set is generated by @pulumi/random. Either way it travels only as a Pulumi secret.
 */
export const SECRET_CONFIG_KEYS = {
  postgresSuperuserPassword: "Password of the PostgreSQL superuser `postgres`. Generated when unset.",
  postgresReplicationPassword: "Password of the PostgreSQL replication role `replicator`. Generated when unset.",
  postgresReadonlyPassword: "Password of the PostgreSQL role `trading_readonly`. Generated when unset.",
  postgresPlatformOwnerPassword: "Password of `trading_platform_owner`, owner of trading_platform. Generated when unset.",
  postgresResultsOwnerPassword: "Password of `trading_results_owner`, owner of trading_results. Generated when unset.",
  postgresPlatformServicePassword: "Password of `trading_platform_app`, the services' role in trading_platform. Generated when unset.",
  postgresResultsServicePassword: "Password of `trading_results_app`, the services' role in trading_results. Generated when unset.",
  mongoRootPassword: "Password of the MongoDB user `root`. Generated when unset.",
  mongoAppPassword: "Password of the MongoDB user `trading_app`. Generated when unset.",
  mongoReadonlyPassword: "Password of the MongoDB user `trading_readonly`. Generated when unset.",
  redisAdminPassword: "Password of the Redis ACL user `admin`. Generated when unset.",
  redisAppPassword: "Password of the Redis ACL user `trading_app`. Generated when unset.",
  influxdbAdminPassword: "Password of the InfluxDB user `admin`. Generated when unset.",
  pgadminPassword: "pgAdmin login password (adminTools). Generated when unset.",
  mongoExpressPassword: "mongo-express login password (adminTools). Generated when unset.",
} as const;

export type SecretKeyName = keyof typeof SECRET_CONFIG_KEYS;
/** The credentials the user set; plain text here, wrapped as Pulumi secrets by components/secrets.ts. */
export type UserSecrets = Partial<Record<SecretKeyName, string>>;

export interface PostgresConfig {
  image: string;
  /** Major version read from the image tag; decides the data directory layout. */
  majorVersion: number;
  port: number;
  replicas: number;
  replicaFirstPort: number;
  memoryMb: number;
  cpus: string;
  maxConnections: number;
  maxSlotWalKeepMb: number;
  /** Kubernetes: the most a replica may lag and still serve reads, in MiB. */
  replicaMaxLagMb: number;
  /** Kubernetes: CloudNativePG's operand image. */
  operandImage: string;
  /** Kubernetes: GiB per data volume. */
  storageGb: number;
}

export interface MongoConfig {
  image: string;
  members: number;
  firstPort: number;
  memoryMb: number;
  /** Kubernetes only. */
  cpus: string;
  electionTimeoutMs: number;
  /** With tls: mongod's --tlsMode (requireTLS, or a step of turning tls on or off for a set that is up). */
  tlsMode: MongoTlsMode;
  /** Kubernetes: GiB per member's data volume. */
  storageGb: number;
}

export const MONGO_TLS_MODES = ["requireTLS", "preferTLS", "allowTLS"] as const;
export type MongoTlsMode = (typeof MONGO_TLS_MODES)[number];

export const REDIS_EVICTION_POLICIES = [
  "volatile-lru",
  "volatile-lfu",
  "volatile-ttl",
  "volatile-random",
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "noeviction",
] as const;

export interface RedisConfig {
  image: string;
  port: number;
  maxMemoryMb: number;
  maxMemoryPolicy: (typeof REDIS_EVICTION_POLICIES)[number];
  /** Kubernetes only. */
  cpus: string;
  storageGb: number;
}

export interface InfluxdbConfig {
  image: string;
  port: number;
  /** 0 = forever. */
  retentionDays: number;
  downsampledRetentionDays: number;
  /** Kubernetes only. */
  memoryMb: number;
  cpus: string;
  storageGb: number;
}

export const ADMIN_TOOLS_ACCESS = ["read-only", "read-write"] as const;
export type AdminToolsAccess = (typeof ADMIN_TOOLS_ACCESS)[number];

export interface AdminToolsConfig {
  /** The tools' database roles: read-only (the default) or read-write; never a superuser. */
  access: AdminToolsAccess;
  pgadminImage: string;
  pgadminPort: number;
  mongoExpressImage: string;
  mongoExpressPort: number;
}

export const PLATFORMS = ["docker", "kubernetes"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Where and how the Kubernetes engine deploys; set only when `platform` is kubernetes. */
export interface KubernetesConfig {
  /** kubeconfig path or contents; undefined: the provider's default ($KUBECONFIG, ~/.kube/config). */
  kubeconfig: string | undefined;
  /** undefined: the kubeconfig's current context. */
  context: string | undefined;
  namespace: string;
  createNamespace: boolean;
  /** The cluster's DNS domain (cluster.local). */
  clusterDomain: string;
  /** undefined: the cluster's default storage class. */
  storageClass: string | undefined;
  /** Consumer pods carrying this label, in their consumer's namespace, may reach the databases it uses. */
  clientLabel: { key: string; value: string };
  /** Each consumer's namespace: its env Secret is made there, its pods admitted from there. */
  consumerNamespaces: Record<Consumer, string>;
  /** Create the consumers' namespaces when missing (never deleted). */
  createConsumerNamespaces: boolean;
  /** The API server's CIDRs for the PostgreSQL instances' egress; undefined: ports 443/6443 anywhere. */
  apiServerCidrs: string[] | undefined;
  /** Where the CloudNativePG operator runs. */
  operatorNamespace: string;
}

export interface TlsConfig {
  /** Where clients read the CA certificate: named in every URI and env map. */
  caFile: string;
}

/** What every component shares: names, data retention, how long to wait. */
export interface CommonConfig {
  namePrefix: string;
  retainData: boolean;
  waitTimeoutSeconds: number;
}

export interface StackConfig extends CommonConfig {
  platform: Platform;
  kubernetes: KubernetesConfig | undefined;
  /** Credentials set with `pulumi config set --secret`; the others are generated. */
  userSecrets: UserSecrets;
  /** pgAdmin and mongo-express; undefined when `adminTools` is false. */
  adminTools: AdminToolsConfig | undefined;
  postgres: PostgresConfig;
  mongo: MongoConfig;
  redis: RedisConfig;
  influxdb: InfluxdbConfig;
  /** TLS with the stack's own CA; undefined when `tls` is off. */
  tls: TlsConfig | undefined;
  /** Allowed but unsafe settings (a pinned version with known vulnerabilities), logged at `pulumi up`. */
  warnings: string[];
}

/** Thrown for bad configuration; lists every problem, each naming its key. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration for stack of ${PROJECT}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Looks up a raw config value (as the Pulumi CLI hands it over: a string) or undefined when unset. */
export type ConfigLookup = (key: ConfigKeyName | SecretKeyName) => string | undefined;

/**
 * `keysSet`: every key of the stack's config as the CLI hands them over, namespaced
 * ("trading-db-stack:postgresReplicas", "docker:host"; pulumi.runtime.allConfig()'s keys). A key of
 * this project the stack does not read is refused: a typo would otherwise leave the default in place.
 */
export function parseStackConfig(lookup: ConfigLookup, keysSet: readonly string[] = []): StackConfig {
  const problems: string[] = unknownKeyProblems(keysSet);
  const reader = new KeyReader(lookup, problems);
  const userSecrets = reader.userSecrets();

  const platform = reader.oneOf("platform", [...PLATFORMS]) as Platform;
  const dnsLabel = (name: ConfigKeyName) => reader.matching(name, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a DNS label: 1-63 lowercase letters, digits and -, starting and ending with a letter or digit");
  const kubernetes: KubernetesConfig = {
    kubeconfig: reader.optional("kubernetesKubeconfig"),
    context: reader.optional("kubernetesContext"),
    namespace: dnsLabel("kubernetesNamespace"),
    createNamespace: reader.boolean("kubernetesCreateNamespace"),
    clusterDomain: reader.matching("kubernetesClusterDomain", /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/, "a DNS domain (e.g. cluster.local)"),
    storageClass: reader.storageClass("kubernetesStorageClass"),
    clientLabel: reader.label("kubernetesClientLabel"),
    operatorNamespace: dnsLabel("kubernetesOperatorNamespace"),
    consumerNamespaces: { "advanced-trading-platform": dnsLabel("kubernetesPlatformNamespace"), "trading-simulation": dnsLabel("kubernetesSimulationNamespace") },
    createConsumerNamespaces: reader.boolean("kubernetesCreateConsumerNamespaces"),
    apiServerCidrs: reader.cidrs("kubernetesApiServerCidr"),
  };
  const storageGb = (name: ConfigKeyName) => reader.integer(name, 1, 65536);
  const namePrefix = reader.matching("namePrefix", /^[a-z][a-z0-9]{0,23}$/, "1-24 lowercase letters and digits, starting with a letter");
  const retainData = reader.boolean("retainData");
  const adminTools = reader.boolean("adminTools");
  const waitTimeoutSeconds = reader.integer("waitTimeoutSeconds", 10, 3600);

  const image = reader.serverImage("postgresImage", "postgres");
  const majorVersion = imageMajorVersion(image);
  const postgres: PostgresConfig = {
    image: image ?? "",
    majorVersion: majorVersion ?? 0,
    port: reader.integer("postgresPort", 1024, 65535),
    replicas: reader.integer("postgresReplicas", 0, POSTGRES_MAX_REPLICAS),
    replicaFirstPort: reader.integer("postgresReplicaFirstPort", 1024, 65535),
    memoryMb: reader.integer("postgresMemoryMb", 256, 262144),
    cpus: reader.cpus("postgresCpus"),
    maxConnections: reader.integer("postgresMaxConnections", 20, 5000),
    maxSlotWalKeepMb: reader.integer("postgresMaxSlotWalKeepMb", 64, 10485760),
    replicaMaxLagMb: reader.integer("postgresReplicaMaxLagMb", 1, 1048576),
    operandImage: reader.serverImage("kubernetesPostgresImage", "postgres") ?? "",
    storageGb: storageGb("postgresStorageGb"),
  };

  const mongoImage = reader.serverImage("mongoImage", "mongo");
  const mongo: MongoConfig = {
    image: mongoImage ?? "",
    members: reader.oddMembers("mongoMembers", [1, 3, 5, 7]),
    firstPort: reader.integer("mongoFirstPort", 1024, 65535),
    memoryMb: reader.integer("mongoMemoryMb", 512, 262144),
    cpus: reader.cpus("mongoCpus"),
    electionTimeoutMs: reader.integer("mongoElectionTimeoutMs", 500, 60000),
    tlsMode: reader.oneOf("mongoTlsMode", [...MONGO_TLS_MODES]) as MongoTlsMode,
    storageGb: storageGb("mongoStorageGb"),
  };

  const redisImage = reader.serverImage("redisImage", "redis");
  const redis: RedisConfig = {
    image: redisImage ?? "",
    port: reader.integer("redisPort", 1024, 65535),
    maxMemoryMb: reader.integer("redisMaxMemoryMb", 16, 262144),
    maxMemoryPolicy: reader.oneOf("redisMaxMemoryPolicy", [...REDIS_EVICTION_POLICIES]) as RedisConfig["maxMemoryPolicy"],
    cpus: reader.cpus("redisCpus"),
    storageGb: storageGb("redisStorageGb"),
  };

  const influxdbImage = reader.serverImage("influxdbImage", "influxdb");
  const influxdb: InfluxdbConfig = {
    image: influxdbImage ?? "",
    port: reader.integer("influxdbPort", 1024, 65535),
    retentionDays: reader.integer("influxdbRetentionDays", 0, 36500),
    downsampledRetentionDays: reader.integer("influxdbDownsampledRetentionDays", 0, 36500),
    memoryMb: reader.integer("influxdbMemoryMb", 256, 262144),
    cpus: reader.cpus("influxdbCpus"),
    storageGb: storageGb("influxdbStorageGb"),
  };

  const tools: AdminToolsConfig = {
    access: reader.oneOf("adminToolsAccess", [...ADMIN_TOOLS_ACCESS]) as AdminToolsAccess,
    pgadminImage: reader.pinnedImage("pgadminImage") ?? "",
    pgadminPort: reader.integer("pgadminPort", 1024, 65535),
    mongoExpressImage: reader.pinnedImage("mongoExpressImage") ?? "",
    mongoExpressPort: reader.integer("mongoExpressPort", 1024, 65535),
  };
  reader.requireMajor("mongoExpressImage", tools.mongoExpressImage || undefined, (major) => major === 1, "mongo-express major version 1 (e.g. mongo-express:1.0.2-20-alpine3.19)");
  const adminToolsConfig = adminTools ? tools : undefined;

  const tlsOn = reader.boolean("tls");
  const caFile = reader.matching("tlsCaFile", /^\/[A-Za-z0-9._\/-]*[A-Za-z0-9._-]$/, "an absolute path of letters, digits, ., _, - and / (it goes into URIs unescaped)");
  const tls: TlsConfig | undefined = tlsOn ? { caFile } : undefined;

  // Rules between keys, each only when its keys are good on their own (a bad one is reported already).
  const good = (...names: ConfigKeyName[]) => names.every((name) => !problems.some((p) => p.startsWith(`${key(name)}:`)));
  if (good("postgresMemoryMb", "postgresMaxConnections")) problems.push(...connectionMemoryProblems(postgres));
  if (platform === "kubernetes") problems.push(...consumerNamespaceProblems(kubernetes, good));
  // Docker volumes have no size: nothing to hold the WAL against there.
  if (platform === "kubernetes" && good("postgresStorageGb", "postgresMaxSlotWalKeepMb")) problems.push(...slotWalProblems(postgres));

  if (problems.length === 0) problems.push(...portProblems(hostPorts({ postgres, mongo, redis, influxdb, adminTools: adminToolsConfig })));
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    platform,
    kubernetes: platform === "kubernetes" ? kubernetes : undefined,
    userSecrets,
    namePrefix,
    retainData,
    adminTools: adminToolsConfig,
    tls,
    waitTimeoutSeconds,
    postgres,
    mongo,
    redis,
    influxdb,
    warnings: reader.warnings,
  };
}

/**
 * A consumer's namespace must not be the databases': whoever may run a pod there could mount the
 * stack's own Secrets (the keyfile, the roles' passwords), so consumers live elsewhere.
 */
function consumerNamespaceProblems(k: KubernetesConfig, good: (...names: ConfigKeyName[]) => boolean): string[] {
  const keys: Record<Consumer, ConfigKeyName> = { "advanced-trading-platform": "kubernetesPlatformNamespace", "trading-simulation": "kubernetesSimulationNamespace" };
  return Object.entries(keys)
    .filter(([consumer, name]) => good(name, "kubernetesNamespace") && k.consumerNamespaces[consumer as Consumer] === k.namespace)
    .map(
      ([consumer, name]) =>
        `${key(name)}: must not be the databases' namespace (${key("kubernetesNamespace")} = ${k.namespace}): a pod of ${consumer} there could mount the stack's own Secrets; got "${k.namespace}" (give the services a namespace of their own)`,
    );
}

/** Memory each PostgreSQL connection needs at least, in MiB: an idle backend's own memory, before any work_mem. */
export const POSTGRES_MIB_PER_CONNECTION = 2;

/** The most connections a server of this memory holds: what shared_buffers leaves, at 2 MiB each. */
export function postgresMaxConnectionsFor(memoryMb: number): number {
  return Math.floor((memoryMb - sharedBuffersMb(memoryMb)) / POSTGRES_MIB_PER_CONNECTION);
}

/** max_connections the memory limit cannot hold: the server would be killed for memory under load instead of refusing connections. */
function connectionMemoryProblems(pg: PostgresConfig): string[] {
  const most = postgresMaxConnectionsFor(pg.memoryMb);
  if (pg.maxConnections <= most) return [];
  return [
    `${key("postgresMaxConnections")}: must be at most ${most} with ${key("postgresMemoryMb")} = ${pg.memoryMb}: shared_buffers takes ${sharedBuffersMb(pg.memoryMb)} MiB (a quarter) and each connection needs at least ${POSTGRES_MIB_PER_CONNECTION} MiB of the rest; got "${pg.maxConnections}" (lower it or raise the memory)`,
  ];
}

/**
 * Kubernetes: the WAL a replica's slot may hold back lives on the primary's data volume, beside the
 * data; at most half the volume, so a lost replica cannot fill the disk and stop the primary.
 */
function slotWalProblems(pg: PostgresConfig): string[] {
  const most = (pg.storageGb * 1024) / 2;
  if (pg.maxSlotWalKeepMb <= most) return [];
  return [
    `${key("postgresMaxSlotWalKeepMb")}: must be at most ${most} MiB (half of ${key("postgresStorageGb")} = ${pg.storageGb} GiB): the WAL a lost replica's slot holds back sits on the primary's data volume and must leave room for the data; got "${pg.maxSlotWalKeepMb}" (lower it or raise the volume size)`,
  ];
}

/** Keys of this project's namespace that the stack does not read, each with the nearest known key when one is close. */
function unknownKeyProblems(keysSet: readonly string[]): string[] {
  const known = [...Object.keys(CONFIG_KEYS), ...Object.keys(SECRET_CONFIG_KEYS)];
  const problems: string[] = [];
  for (const fullKey of keysSet) {
    // Other namespaces (docker:, kubernetes:, pulumi:) belong to providers and Pulumi itself.
    if (!fullKey.startsWith(`${PROJECT}:`)) continue;
    const name = fullKey.slice(PROJECT.length + 1);
    if (known.includes(name)) continue;
    const nearest = nearestKey(name, known);
    const hint = nearest ? `did you mean \`${nearest}\`?` : "the keys are listed in Pulumi.yaml and the README's Configuration section";
    problems.push(`${fullKey}: is not a setting of this stack, so it would be ignored; ${hint}`);
  }
  return problems;
}

/** The known key closest to `name` (ignoring case), if a typo could explain the difference: at most a third of it, and at least 2, edits. */
function nearestKey(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance: the fewest inserted, deleted or changed characters from a to b. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** A host port and the setting it comes from, for error messages. */
export interface HostPort {
  port: number;
  setting: string;
}

/** Every host port the stack publishes. */
export function hostPorts(config: Pick<StackConfig, "postgres" | "mongo" | "redis" | "influxdb" | "adminTools">): HostPort[] {
  const { postgres: pg, mongo } = config;
  const ports: HostPort[] = [{ port: pg.port, setting: key("postgresPort") }];
  for (let n = 1; n <= pg.replicas; n++) {
    ports.push({ port: pg.replicaFirstPort + n - 1, setting: `${key("postgresReplicaFirstPort")} (replica ${n})` });
  }
  for (let n = 1; n <= mongo.members; n++) {
    ports.push({ port: mongo.firstPort + n - 1, setting: n === 1 ? key("mongoFirstPort") : `${key("mongoFirstPort")} (member ${n})` });
  }
  ports.push({ port: config.redis.port, setting: key("redisPort") });
  ports.push({ port: config.influxdb.port, setting: key("influxdbPort") });
  if (config.adminTools) {
    ports.push({ port: config.adminTools.pgadminPort, setting: key("pgadminPort") });
    ports.push({ port: config.adminTools.mongoExpressPort, setting: key("mongoExpressPort") });
  }
  return ports;
}

function portProblems(ports: HostPort[]): string[] {
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const { port, setting } of ports) {
    if (port > 65535) problems.push(`${setting}: port ${port} is above 65535; lower the setting or the replica count`);
    const other = seen.get(port);
    if (other) problems.push(`${setting}: host port ${port} is already used by ${other}; give each service its own port`);
    else seen.set(port, setting);
  }
  return problems;
}

/** "postgres:18.7" -> 18; undefined when the tag does not start with a number. */
export function imageMajorVersion(image: string | undefined): number | undefined {
  const tag = image === undefined ? undefined : imageTag(image);
  const match = tag?.match(/^(\d+)/);
  return match ? Number(match[1]) : undefined;
}

function imageTag(image: string): string | undefined {
  const withoutDigest = image.split("@")[0];
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const colon = lastSegment.indexOf(":");
  return colon === -1 ? undefined : lastSegment.slice(colon + 1);
}

/** What kind of character a refused credential holds, never the value itself. */
function describeRefusedCharacters(value: string): string {
  const kinds = [
    /\s/.test(value) && "whitespace",
    /[\x00-\x1f\x7f]/.test(value) && "a control character",
    value.includes("'") && "a single quote",
    /[^\x00-\x7f]/.test(value) && "a non-ASCII character",
  ].filter(Boolean);
  return kinds.length ? `, holding ${kinds.join(" and ")}` : "";
}

function key(name: ConfigKeyName | SecretKeyName): string {
  return `${PROJECT}:${name}`;
}

const SERVER_LABELS: Record<ServerImage, string> = { postgres: "PostgreSQL", mongo: "MongoDB", redis: "Redis", influxdb: "InfluxDB" };

class KeyReader {
  /** What is allowed but unsafe (a pinned version with known vulnerabilities): said at `pulumi up`. */
  readonly warnings: string[] = [];

  constructor(
    private readonly lookup: ConfigLookup,
    private readonly problems: string[],
  ) {}

  private raw(name: ConfigKeyName): string {
    const value = this.lookup(name);
    return value === undefined ? String(CONFIG_KEYS[name].default) : value.trim();
  }

  private fail<T>(name: ConfigKeyName, allowed: string, got: string, fallback: T): T {
    this.problems.push(`${key(name)}: must be ${allowed}; got "${got}"`);
    return fallback;
  }

  oneOf(name: ConfigKeyName, allowed: string[]): string {
    const value = this.raw(name);
    return allowed.includes(value) ? value : this.fail(name, `one of: ${allowed.join(", ")}`, value, allowed[0]);
  }

  matching(name: ConfigKeyName, pattern: RegExp, allowed: string): string {
    const value = this.raw(name);
    return pattern.test(value) ? value : this.fail(name, allowed, value, value);
  }

  /** A string whose empty value means "not set". */
  optional(name: ConfigKeyName): string | undefined {
    const value = this.raw(name);
    return value === "" ? undefined : value;
  }

  /**
   * A storage class name, or undefined for the cluster's default. Kubernetes names storage classes
   * as DNS subdomains (RFC 1123) and refuses a volume claim naming anything else, by then with part
   * of the stack created.
   */
  storageClass(name: ConfigKeyName): string | undefined {
    const value = this.optional(name);
    if (value === undefined) return undefined;
    const subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
    if (value.length <= 253 && subdomain.test(value)) return value;
    return this.fail(name, "a DNS subdomain (RFC 1123): at most 253 characters, lowercase letters, digits, - and ., each dot-separated part starting and ending with a letter or digit", value, undefined);
  }

  /** key=value, as a Kubernetes label: a qualified name and a label value. */
  label(name: ConfigKeyName): { key: string; value: string } {
    const value = this.raw(name);
    const match = value.match(/^((?:[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)=([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/);
    if (match) return { key: match[1], value: match[4] };
    return this.fail(name, "a Kubernetes label key=value (e.g. trading-db-stack/client=true)", value, { key: "", value: "" });
  }

  /** IPv4 or IPv6 CIDRs (10.0.0.1/32), comma-separated, or undefined when empty. */
  cidrs(name: ConfigKeyName): string[] | undefined {
    const value = this.optional(name);
    if (value === undefined) return undefined;
    const cidrs = value.split(",").map((c) => c.trim());
    const isCidr = (cidr: string) => {
      const [address, prefix, ...rest] = cidr.split("/");
      const family = net.isIP(address ?? "");
      const bits = /^\d{1,3}$/.test(prefix ?? "") ? Number(prefix) : NaN;
      return rest.length === 0 && family !== 0 && bits >= 0 && bits <= (family === 4 ? 32 : 128);
    };
    if (cidrs.every(isCidr)) return cidrs;
    return this.fail(name, "one or more CIDRs, comma-separated: each an IPv4 or IPv6 address, / and a prefix length (e.g. 10.0.0.1/32)", value, undefined);
  }

  boolean(name: ConfigKeyName): boolean {
    const value = this.raw(name);
    if (value === "true") return true;
    if (value === "false") return false;
    return this.fail(name, "true or false", value, false);
  }

  integer(name: ConfigKeyName, min: number, max: number): number {
    const value = this.raw(name);
    const number = /^-?\d+$/.test(value) ? Number(value) : NaN;
    if (Number.isSafeInteger(number) && number >= min && number <= max) return number;
    return this.fail(name, `a whole number from ${min} to ${max}`, value, min);
  }

  cpus(name: ConfigKeyName): string {
    const value = this.raw(name);
    const number = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
    if (number > 0 && number <= 64) return value;
    return this.fail(name, "a decimal number of CPUs above 0 and at most 64 (e.g. 0.5, 2)", value, "1");
  }

  oddMembers(name: ConfigKeyName, allowed: number[]): number {
    const value = this.raw(name);
    return allowed.map(String).includes(value) ? Number(value) : this.fail(name, `one of ${allowed.join(", ")} (an odd number of members)`, value, allowed[0]);
  }

  /**
   * The credentials that are set: 16-128 printable ASCII characters, no space and no single quote.
   * ASCII because PostgreSQL's and MongoDB's SCRAM SASLprep non-ASCII passwords and not every client
   * does; no `'` because the consumers' .env files single-quote every value (tools/env.ts), and no
   * quoting carries a `'` exactly for both bash and the dotenv package. A problem never shows the value.
   */
  userSecrets(): UserSecrets {
    const secrets: UserSecrets = {};
    for (const name of Object.keys(SECRET_CONFIG_KEYS) as SecretKeyName[]) {
      const value = this.lookup(name);
      if (value === undefined) continue;
      if (value.length < 16 || value.length > 128 || !/^[\x21-\x26\x28-\x7e]*$/.test(value)) {
        this.problems.push(
          `${key(name)}: must be 16-128 printable ASCII characters without spaces or single quotes ('); got ${value.length} characters${describeRefusedCharacters(value)} (value not shown)`,
        );
      } else {
        secrets[name] = value;
      }
    }
    return secrets;
  }

  /**
   * A database server's pinned image: its tag must start with a version the stack's files serve
   * (SERVED_VERSIONS); a version with known vulnerabilities is allowed, with a warning naming them.
   */
  serverImage(name: ConfigKeyName, server: ServerImage): string | undefined {
    const image = this.pinnedImage(name);
    if (image === undefined) return undefined;
    const label = SERVER_LABELS[server];
    const served = SERVED_VERSIONS[server];
    const example = CONFIG_KEYS[name].default;
    const range = served.majorBelow === undefined ? `${served.minimum} or newer` : `${served.minimum} or newer, below ${served.majorBelow}`;
    const version = tagVersion(imageTag(image) ?? "");
    const refuse = (why: string) => void this.problems.push(`${key(name)}: ${why}; this stack serves ${label} ${range} (e.g. ${example}); got "${image}"`);
    if (version === undefined) {
      refuse(`the tag must start with the ${label} version`);
    } else if (compareVersions(version, tagVersion(served.minimum)!.slice(0, version.length)) < 0) {
      // A tag naming only a series (redis:6) follows that series' newest release.
      refuse(`${label} ${versionText(version)} is too old: ${served.why}`);
    } else if (served.majorBelow !== undefined && version[0] >= served.majorBelow) {
      refuse(`${label} ${versionText(version)} is too new: ${served.whyNotNewer}`);
    } else {
      for (const v of knownVulnerabilities(server, version)) {
        this.warnings.push(`${key(name)}: ${label} ${versionText(version)} has ${v.ids.join(", ")} (${v.summary}), fixed in ${v.fixedIn.join(", ")}; the default pin is ${example}`);
      }
    }
    return image;
  }

  /** A problem when a pinned image's tag does not start with an allowed major version. */
  requireMajor(name: ConfigKeyName, image: string | undefined, allowed: (major: number) => boolean, what: string): void {
    if (image === undefined) return;
    const major = imageMajorVersion(image);
    if (major === undefined || !allowed(major)) this.problems.push(`${key(name)}: the tag must start with the ${what}; got "${image}"`);
  }

  pinnedImage(name: ConfigKeyName): string | undefined {
    const value = this.raw(name);
    const reference = /^[a-z0-9]+(?:[._\/:-][a-z0-9]+)*(?:@sha256:[a-f0-9]{64})?$/i;
    const tag = imageTag(value);
    if (!reference.test(value) || tag === undefined || tag === "" || tag === "latest") {
      return this.fail(name, "an image reference with a pinned tag (e.g. postgres:18.7), not latest", value, undefined);
    }
    return value;
  }
}
