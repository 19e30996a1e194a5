// Pure builders for the admin tools: pgAdmin (servers.json, passfile, environment) and
// mongo-express (environment), their names and healthchecks.
import type { AdminToolsAccess } from "./config";
import { shellCommand, type Endpoint, type ReadyCheck, type ServerSpec } from "./server-spec";
import { TLS_CA_FILE, TLS_PATHS } from "./tls";

/**
 * Not the image's default 80: its python binds below 1024 only through a file capability, which
 * no-new-privileges (Docker) and allowPrivilegeEscalation false (Kubernetes) strip.
 */
export const PGADMIN_CONTAINER_PORT = 8080;
export const MONGO_EXPRESS_CONTAINER_PORT = 8081;
/** pgAdmin's login. Not seed 002's admin@trading.local: pgAdmin refuses special-use domains such as .local. */
export const PGADMIN_EMAIL = "admin@trading.example.com";
export const MONGO_EXPRESS_USER = "admin";

export const ADMIN_PATHS = {
  pgadminData: "/var/lib/pgadmin",
  pgadminServers: "/pgadmin4/servers.json",
  pgadminPasswordFile: "/run/secrets/pgadmin-password",
  /** Uploaded (root-owned); the wrapper copies it into the login's storage folder with mode 0600. */
  pgadminPgpassSource: "/run/secrets/pgadmin-pgpass",
  pgadminEntrypoint: "/usr/local/bin/trading-pgadmin-entrypoint.sh",
  mongoExpressUrlFile: "/run/secrets/mongo-express-url",
  mongoExpressPasswordFile: "/run/secrets/mongo-express-password",
  mongoExpressSessionSecretFile: "/run/secrets/mongo-express-session-secret",
  mongoExpressCookieSecretFile: "/run/secrets/mongo-express-cookie-secret",
  mongoExpressEntrypoint: "/usr/local/bin/trading-mongo-express-entrypoint.sh",
} as const;

/** The tools' service names: Docker network aliases, Kubernetes object and selector names. */
export const PGADMIN_SERVICE = "pgadmin";
export const MONGO_EXPRESS_SERVICE = "mongo-express";

export function adminToolNames(prefix: string) {
  return {
    pgadminContainer: `${prefix}-pgadmin`,
    pgadminHost: PGADMIN_SERVICE,
    pgadminVolume: `${prefix}_pgadmin_data`,
    mongoExpressContainer: `${prefix}-mongo-express`,
    mongoExpressHost: MONGO_EXPRESS_SERVICE,
  };
}

/**
 * In server mode pgAdmin reads a server's PassFile relative to the login's storage folder,
 * /var/lib/pgadmin/storage/<email with @ as _>; the passfile must be the pgAdmin user's, mode 0600.
 */
export function pgadminStorageDir(email: string): string {
  return `${ADMIN_PATHS.pgadminData}/storage/${email.replace("@", "_")}`;
}

export interface PgadminServer {
  name: string;
  endpoint: Endpoint;
}

/**
 * servers.json: every PostgreSQL server, connecting as `user` with the passfile. With TLS pgAdmin
 * verifies each server's certificate and name (verify-full) against the stack's CA, which the
 * wrapper copies into the login's storage folder, where server mode reads file paths from.
 */
export function pgadminServersJson(servers: PgadminServer[], user: string, tls = false): string {
  const entries = servers.map((s, i) => [
    String(i + 1),
    {
      Name: s.name,
      Group: "trading-db-stack",
      Host: s.endpoint.host,
      Port: s.endpoint.port,
      MaintenanceDB: "postgres",
      Username: user,
      // pgAdmin reads the older top-level PassFile and SSLMode only without ConnectionParameters:
      // with TLS every setting goes there.
      ...(tls ? { ConnectionParameters: { sslmode: "verify-full", sslrootcert: "/tls-ca.crt", passfile: "/pgpass" } } : { PassFile: "/pgpass", SSLMode: "prefer" }),
    },
  ]);
  return `${JSON.stringify({ Servers: Object.fromEntries(entries) }, null, 2)}\n`;
}

/** A libpq passfile: host:port:*:user:password per server, with : and \ escaped. */
export function pgpassFile(servers: PgadminServer[], user: string, password: string): string {
  const escape = (value: string) => value.replace(/\\/g, "\\\\").replace(/:/g, "\\:");
  return servers.map((s) => `${escape(s.endpoint.host)}:${s.endpoint.port}:*:${escape(user)}:${escape(password)}\n`).join("");
}

export function pgadminEnv(tls = false): Record<string, string> {
  return {
    PGADMIN_DEFAULT_EMAIL: PGADMIN_EMAIL,
    PGADMIN_DEFAULT_PASSWORD_FILE: ADMIN_PATHS.pgadminPasswordFile,
    PGADMIN_SERVER_JSON_FILE: ADMIN_PATHS.pgadminServers,
    // servers.json is otherwise imported on first launch only: a new replica would never show up.
    PGADMIN_REPLACE_SERVERS_ON_STARTUP: "True",
    PGADMIN_CONFIG_SERVER_MODE: "True",
    PGADMIN_DISABLE_POSTFIX: "True",
    PGADMIN_LISTEN_PORT: String(PGADMIN_CONTAINER_PORT),
    // Read by the wrapper entrypoint.
    PGPASS_SOURCE: ADMIN_PATHS.pgadminPgpassSource,
    PGPASS_TARGET: `${pgadminStorageDir(PGADMIN_EMAIL)}/pgpass`,
    ...(tls ? { PGADMIN_TLS_CA_SOURCE: TLS_PATHS.ca } : {}),
  };
}

export function mongoExpressEnv(access: AdminToolsAccess, tls = false): Record<string, string> {
  return {
    // Turned into ME_CONFIG_MONGODB_URL, ME_CONFIG_SITE_* by the wrapper: mongo-express reads them from env only.
    ME_CONFIG_MONGODB_URL_FILE: ADMIN_PATHS.mongoExpressUrlFile,
    ME_CONFIG_SITE_SESSIONSECRET_FILE: ADMIN_PATHS.mongoExpressSessionSecretFile,
    ME_CONFIG_SITE_COOKIESECRET_FILE: ADMIN_PATHS.mongoExpressCookieSecretFile,
    ME_CONFIG_MONGODB_ENABLE_ADMIN: "true",
    // Read-only access (readAnyDatabase): the UI offers no edits the server would refuse.
    ME_CONFIG_OPTIONS_READONLY: String(access === "read-only"),
    ME_CONFIG_BASICAUTH: "true",
    ME_CONFIG_BASICAUTH_USERNAME: MONGO_EXPRESS_USER,
    // mongo-express reads this one from the file itself.
    ME_CONFIG_BASICAUTH_PASSWORD_FILE: ADMIN_PATHS.mongoExpressPasswordFile,
    VCAP_APP_HOST: "0.0.0.0",
    PORT: String(MONGO_EXPRESS_CONTAINER_PORT),
    // With tls: mongo-express's own connection options (it passes ssl: false unless told, which the
    // driver refuses beside a URI's tls=true): TLS, the server verified against the stack's CA.
    ...(tls ? { ME_CONFIG_MONGODB_SSL: "true", ME_CONFIG_MONGODB_SSLVALIDATE: "true", ME_CONFIG_MONGODB_CA_FILE: TLS_PATHS.ca } : {}),
  };
}

function httpReadyCheck(url: string): ReadyCheck {
  return { command: shellCommand(["wget", "-q", "-O", "/dev/null", url]), timeoutSeconds: 5 };
}

/** pgAdmin's own ping endpoint, answered once the app is up. */
export function pgadminReadyCheck(): ReadyCheck {
  return httpReadyCheck(`http://127.0.0.1:${PGADMIN_CONTAINER_PORT}/misc/ping`);
}

/** mongo-express serves /status (without basic auth) only after it has connected to MongoDB. */
export function mongoExpressReadyCheck(): ReadyCheck {
  return httpReadyCheck(`http://127.0.0.1:${MONGO_EXPRESS_CONTAINER_PORT}/status`);
}

/** uid of `pgadmin` in its image (group 0, as the image's files are). */
export const PGADMIN_IMAGE_UID = 5050;
/** uid/gid of `node` in the mongo-express image (whose own default user is root). */
export const MONGO_EXPRESS_IMAGE_UID = 1000;

const ADMIN_RESOURCES = { memoryMb: 512, cpus: "0.5" };

/** pgAdmin with every PostgreSQL server registered (servers.json) and logging in through a passfile. */
export function pgadminSpec(image: string, servers: PgadminServer[], superuser: string, entrypoint: string, tls = false): ServerSpec {
  return {
    service: PGADMIN_SERVICE,
    role: "pgadmin",
    image,
    entrypoint: [ADMIN_PATHS.pgadminEntrypoint],
    env: pgadminEnv(tls),
    files: [
      { path: ADMIN_PATHS.pgadminEntrypoint, content: entrypoint, executable: true },
      { path: ADMIN_PATHS.pgadminServers, content: pgadminServersJson(servers, superuser, tls) },
    ],
    secretFiles: [
      { path: ADMIN_PATHS.pgadminPasswordFile, credential: "pgadminPassword" },
      { path: ADMIN_PATHS.pgadminPgpassSource, credential: "pgpass" },
      ...(tls ? [TLS_CA_FILE] : []),
    ],
    port: { name: "http", number: PGADMIN_CONTAINER_PORT },
    ready: pgadminReadyCheck(),
    // The image gives its python NET_BIND_SERVICE (setcap) to listen on 80 as uid 5050: exec
    // needs it in the bounding set, though nothing gains it (PGADMIN_CONTAINER_PORT).
    fileCapabilities: ["NET_BIND_SERVICE"],
    volumes: [{ key: "data", path: ADMIN_PATHS.pgadminData }],
    writesToRoot: "pgAdmin's entrypoint writes its settings into the application's own folder (/pgadmin4/config_distro.py) at every start",
    user: { uid: PGADMIN_IMAGE_UID, gid: 0 },
    resources: ADMIN_RESOURCES,
    dockerLimits: { memory: false, cpus: false },
    stopGraceSeconds: 10,
  };
}

/** mongo-express on the replica-set URI (secret "url"), behind basic auth; with TLS verifying the members against the CA file. */
export function mongoExpressSpec(image: string, entrypoint: string, access: AdminToolsAccess, tls = false): ServerSpec {
  return {
    service: MONGO_EXPRESS_SERVICE,
    role: "mongo-express",
    image,
    // The image's entrypoint stays: the wrapper runs first and then hands over to it.
    entrypoint: ["/sbin/tini", "--", ADMIN_PATHS.mongoExpressEntrypoint],
    command: ["/docker-entrypoint.sh", "mongo-express"],
    env: mongoExpressEnv(access, tls),
    files: [{ path: ADMIN_PATHS.mongoExpressEntrypoint, content: entrypoint, executable: true }],
    secretFiles: [
      { path: ADMIN_PATHS.mongoExpressUrlFile, credential: "url" },
      { path: ADMIN_PATHS.mongoExpressPasswordFile, credential: "password" },
      { path: ADMIN_PATHS.mongoExpressSessionSecretFile, credential: "sessionSecret" },
      { path: ADMIN_PATHS.mongoExpressCookieSecretFile, credential: "cookieSecret" },
      ...(tls ? [TLS_CA_FILE] : []),
    ],
    port: { name: "http", number: MONGO_EXPRESS_CONTAINER_PORT },
    ready: mongoExpressReadyCheck(),
    volumes: [],
    user: { uid: MONGO_EXPRESS_IMAGE_UID, gid: MONGO_EXPRESS_IMAGE_UID },
    resources: ADMIN_RESOURCES,
    dockerLimits: { memory: false, cpus: false },
    stopGraceSeconds: 10,
  };
}
