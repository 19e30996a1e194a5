// Pure builders for the MongoDB replica set: names, paths, mongod arguments, healthcheck, the
// replica-set config and connection strings. No Pulumi here, so every rule is unit-tested directly.
import type { MongoConfig, MongoTlsMode } from "./config";
import type { ClientTls } from "./postgres-spec";
import type { Endpoint, ReadyCheck, ServerSpec } from "./server-spec";
import { TLS_PATHS, tlsKeyPairSecretFiles } from "./tls";

/** The port mongod listens on inside its container (and inside the Docker networks). */
export const MONGO_CONTAINER_PORT = 27017;
export const MONGO_REPLICA_SET = "rs0";
/** Seed 002's configuration database. */
export const MONGO_DATABASE = "trading_configs";

/** Users, all in the admin database (authSource=admin). */
export const MONGO_USERS = {
  /**
   * Created by the init hook through __system (the members' key) on a new set: no member carries
   * its password, so a rotation is root's own updateUser, logged in with the previous one, with no restart.
   */
  root: "root",
  /** What the services connect as: readWrite on trading_configs only. */
  app: "trading_app",
  /** mongo-express's login (with the admin tools only): readAnyDatabase, never root. */
  adminTools: "trading_admin_tools",
  /** read on trading_configs only. */
  readonly: "trading_readonly",
} as const;

/** Paths inside the member containers. */
export const MONGO_PATHS = {
  dataDir: "/data/db",
  configDir: "/data/configdb",
  /** Uploaded by Pulumi (root-owned); the wrapper copies it to `keyfile`. */
  keyfileSource: "/run/secrets/mongo-keyfile",
  /** Where mongod reads it: owned by uid 999 with mode 0400, as mongod demands. */
  keyfile: "/etc/mongo-keyfile/keyfile",
  entrypoint: "/usr/local/bin/trading-mongo-entrypoint.sh",
} as const;

/** uid/gid of the `mongodb` user in the official image. */
export const MONGO_IMAGE_UID = 999;

export interface MongoNames {
  container(n: number): string;
  /** DNS name on both Docker networks and in the replica-set config (member 1 is `mongodb`, as in seed 002). */
  host(n: number): string;
  dataVolume(n: number): string;
  configVolume(n: number): string;
}

export function mongoNames(prefix: string): MongoNames {
  const suffix = (n: number, sep: string) => (n === 1 ? "" : `${sep}${n}`);
  return {
    container: (n) => `${prefix}-mongodb${suffix(n, "-")}`,
    host: (n) => `mongodb${suffix(n, "-")}`,
    // Member 1 keeps seed 002's volume names, so an existing deployment's data is picked up.
    dataVolume: (n) => `${prefix}_mongodb${suffix(n, "_")}_data`,
    configVolume: (n) => `${prefix}_mongodb${suffix(n, "_")}_config`,
  };
}

/** WiredTiger cache: half the container's memory less 256 MiB for everything else, at least 0.25 GB. */
export function wiredTigerCacheGb(memoryMb: number): number {
  return Math.max(0.25, Math.floor(((memoryMb / 2 - 256) / 1024) * 100) / 100);
}

/**
 * With `tls`: TLS only, for clients and members alike (requireTLS, or a step of turning it on or
 * off for a set that is up: allowTLS, preferTLS). Members present their own certificate to each
 * other (it has client_auth), checked against the stack's CA; clients bring none (they log in with
 * passwords), and verify the member against the CA.
 */
export function mongodTlsArgs(mode: MongoTlsMode = "requireTLS"): string[] {
  return ["--tlsMode", mode, "--tlsCertificateKeyFile", TLS_PATHS.certificateAndKey, "--tlsCAFile", TLS_PATHS.ca, "--tlsAllowConnectionsWithoutCertificates"];
}

/** The container command, handed by the wrapper to the image's entrypoint. */
export function mongodCommand(mongo: MongoConfig, tls = false): string[] {
  return [
    "mongod",
    "--replSet",
    MONGO_REPLICA_SET,
    "--keyFile",
    MONGO_PATHS.keyfile,
    "--bind_ip_all",
    "--port",
    String(MONGO_CONTAINER_PORT),
    "--wiredTigerCacheSizeGB",
    String(wiredTigerCacheGb(mongo.memoryMb)),
    // No zlib: its decompression read server heap memory before login (CVE-2025-14847, fixed in
    // 8.0.17). Defence in depth beside the pin; clients that ask for zlib get no compression.
    "--networkMessageCompressors",
    MONGO_NETWORK_COMPRESSORS.join(","),
    // No user exists until the hook makes root (through __system): without this, a connection from
    // the member's loopback (where a Kubernetes port-forward arrives) could meanwhile make the first.
    "--setParameter",
    "enableLocalhostAuthBypass=false",
    ...(tls ? mongodTlsArgs(mongo.tlsMode) : []),
  ];
}

/** What mongod offers clients to compress the wire with (its default adds zlib). */
export const MONGO_NETWORK_COMPRESSORS = ["snappy", "zstd"];

/** Environment of a member: the wrapper's keyfile paths. No root user: the hook creates it. */
export function mongoEnv(): Record<string, string> {
  return { MONGO_KEYFILE_SOURCE: MONGO_PATHS.keyfileSource, MONGO_KEYFILE: MONGO_PATHS.keyfile };
}

/**
 * Ready when the real mongod answers on the container's own address (an image's init phase, were
 * it given a root user, would run a temporary mongod bound to 127.0.0.1 only: asking via $HOSTNAME
 * is not fooled by it). ping needs no authentication, and answers before the replica set is formed (the
 * hook forms it once every member is ready).
 */
export function mongoReadyCheck(tls = false): ReadyCheck {
  // HOME: the image sets it to /data/db, and mongosh would write its logs into the data volume.
  const ping = `HOME=/tmp mongosh --quiet --norc${mongoshTls(tls)} --host "$HOSTNAME" --port ${MONGO_CONTAINER_PORT} --eval 'quit(db.adminCommand({ ping: 1 }).ok === 1 ? 0 : 1)'`;
  // mongosh is a Node program: give it time to start.
  return { command: ping, timeoutSeconds: 10 };
}

/**
 * Serving its share: the writable primary or a secondary, or a member of a set not formed yet (the
 * hook forms it once every member is up). A member in initial sync or recovery is up but not
 * serving, so a rollout or a drain waits for it.
 */
export function mongoServingCheck(tls = false): ReadyCheck {
  // isMaster, hello's older name: answered by every MongoDB from 4.0 to 8, without authentication.
  const state = "const h = db.adminCommand({ isMaster: 1 }); quit((h.ismaster && h.setName) || h.secondary || (h.isreplicaset && !h.setName) ? 0 : 1)";
  return { command: `HOME=/tmp mongosh --quiet --norc${mongoshTls(tls)} --host "$HOSTNAME" --port ${MONGO_CONTAINER_PORT} --eval '${state}'`, timeoutSeconds: 10 };
}

/**
 * The probes over TLS: the member's certificate checked against the CA. Not its name: the probe
 * asks its own container by $HOSTNAME (a Docker container's id, a pod's short name), which no
 * certificate can list ahead.
 */
function mongoshTls(tls: boolean): string {
  return tls ? ` --tls --tlsCAFile ${TLS_PATHS.ca} --tlsAllowInvalidHostnames` : "";
}

/** Where the wrapper writes the 0400 keyfile copy mongod demands: a scratch folder of the member's user. */
export const MONGO_KEYFILE_DIR = MONGO_PATHS.keyfile.slice(0, MONGO_PATHS.keyfile.lastIndexOf("/"));

/** A member: the wrapper copies the keyfile with mode 0400, then the image's entrypoint starts mongod. */
export function mongoMemberSpec(mongo: MongoConfig, service: string, role: string, entrypoint: string, tls = false): ServerSpec {
  return {
    service,
    role,
    image: mongo.image,
    entrypoint: [MONGO_PATHS.entrypoint],
    command: mongodCommand(mongo, tls),
    env: mongoEnv(),
    files: [{ path: MONGO_PATHS.entrypoint, content: entrypoint, executable: true }],
    secretFiles: [{ path: MONGO_PATHS.keyfileSource, credential: "keyfile" }, ...(tls ? tlsKeyPairSecretFiles() : [])],
    port: { name: "mongodb", number: MONGO_CONTAINER_PORT },
    ready: mongoReadyCheck(tls),
    serving: mongoServingCheck(tls),
    volumes: [
      { key: "data", path: MONGO_PATHS.dataDir },
      { key: "config", path: MONGO_PATHS.configDir, sizeGb: 1 },
    ],
    // /tmp: the image's entrypoint writes its parsed config there, mongod its unix socket, mongosh
    // (the probes) its logs under HOME=/tmp.
    scratchPaths: [MONGO_KEYFILE_DIR, "/tmp"],
    user: { uid: MONGO_IMAGE_UID, gid: MONGO_IMAGE_UID },
    resources: { memoryMb: mongo.memoryMb, cpus: mongo.cpus },
    dockerLimits: { memory: true, cpus: false },
    // A stop that is not a SIGKILL: no recovery on every replace.
    stopGraceSeconds: 60,
  };
}

export interface ReplicaSetMember {
  _id: number;
  /** host:port as the members and in-network clients reach it. */
  host: string;
  priority: number;
}

/**
 * The replica-set config's members, from the names the members reach each other by. Member 1 has
 * the highest priority, so it is primary whenever it is healthy (the host URI points at it).
 */
export function replicaSetMembers(hosts: Endpoint[]): ReplicaSetMember[] {
  return hosts.map((h, i) => ({ _id: i, host: `${h.host}:${h.port}`, priority: i === 0 ? 2 : 1 }));
}

export interface MongoUriOptions {
  user: string;
  password: string;
  database: string;
}

/** With TLS: the driver verifies every member's certificate and name against the CA file. */
function tlsQuery(tls: ClientTls | undefined): string {
  return tls ? `&tls=true&tlsCAFile=${tls.caFile}` : "";
}

/** In-network URI: every member, replicaSet, so the driver follows the primary. */
export function mongoReplicaSetUri(o: MongoUriOptions, members: ReplicaSetMember[], readPreference?: string, tls?: ClientTls): string {
  const hosts = members.map((m) => m.host).join(",");
  const extra = readPreference ? `&readPreference=${readPreference}` : "";
  return `mongodb://${encodeURIComponent(o.user)}:${encodeURIComponent(o.password)}@${hosts}/${o.database}?replicaSet=${MONGO_REPLICA_SET}&authSource=admin${extra}${tlsQuery(tls)}`;
}

/**
 * Host URI: member host names resolve only inside Docker (or the cluster), so a client on the host
 * talks to one port directly instead of discovering the set: member 1, the preferred primary, on
 * Docker; on Kubernetes `npm run forward` routes that port to whichever member is primary.
 */
export function mongoDirectUri(o: MongoUriOptions, endpoint: Endpoint, tls?: ClientTls): string {
  return `mongodb://${encodeURIComponent(o.user)}:${encodeURIComponent(o.password)}@${endpoint.host}:${endpoint.port}/${o.database}?directConnection=true&authSource=admin${tlsQuery(tls)}`;
}

/**
 * Seed 002's variables (trading simulation), plus MONGODB_URL for drivers that take a URI. With
 * TLS also MONGODB_TLS and MONGODB_TLS_CA_FILE, for clients built from the parts (pymongo's
 * `tls=True, tlsCAFile=…`); the URL carries both already.
 */
export function tradingSimulationMongoEnv(user: string, password: string, endpoint: Endpoint, url: string, tls?: ClientTls): Record<string, string> {
  return {
    MONGODB_HOST: endpoint.host,
    MONGODB_PORT: String(endpoint.port),
    MONGODB_USERNAME: user,
    MONGODB_PASSWORD: password,
    MONGODB_DATABASE: MONGO_DATABASE,
    MONGODB_URL: url,
    ...(tls ? { MONGODB_TLS: "true", MONGODB_TLS_CA_FILE: tls.caFile } : {}),
  };
}
