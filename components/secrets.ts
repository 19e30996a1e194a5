import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { SecretKeyName, UserSecrets } from "./config";
import { formerlyNamed } from "./names";
import { POSTGRES_DATABASES, POSTGRES_ROLES } from "./postgres-spec";

// Every credential of the stack: the user's own where set (`pulumi config set --secret`), else
// generated once by @pulumi/random and kept in the stack state (encrypted). Nothing is defaulted:
// there is no password a user could forget to change.

export interface StackSecretsArgs {
  /** Length of generated passwords; alphanumeric so they need no quoting in URIs and conninfo strings. */
  passwordLength?: number;
  /** Generate the admin tools' logins (only when the tools are deployed). */
  adminTools: boolean;
  /** Credentials the user set, which replace the generated ones. */
  userSecrets: UserSecrets;
  /** Generate the key that hashes credentials into Kubernetes pod annotations. */
  kubernetes: boolean;
}

export interface PostgresSecrets {
  superuser: pulumi.Output<string>;
  replication: pulumi.Output<string>;
  /** Owner role password per database name. */
  owners: Record<string, pulumi.Output<string>>;
  /** Service role password per database name. */
  services: Record<string, pulumi.Output<string>>;
  readonly: pulumi.Output<string>;
  /** Kubernetes: the monitoring role (pg_monitor) that `npm run verify` and operators log in as; CloudNativePG keeps the superuser off the network. */
  monitor?: pulumi.Output<string>;
  /** pgAdmin's own role (only with the admin tools). */
  adminTools?: pulumi.Output<string>;
}

export interface MongoSecrets {
  root: pulumi.Output<string>;
  app: pulumi.Output<string>;
  readonly: pulumi.Output<string>;
  /** Shared key the members authenticate each other with (keyFile): 756 base64-alphabet characters. */
  keyfile: pulumi.Output<string>;
  /** mongo-express's own user (only with the admin tools). */
  adminTools?: pulumi.Output<string>;
}

export interface RedisSecrets {
  admin: pulumi.Output<string>;
  app: pulumi.Output<string>;
  healthcheck: pulumi.Output<string>;
}

export interface InfluxdbSecrets {
  adminPassword: pulumi.Output<string>;
  /** The operator token setup mode creates; the init hook uses it to make the services' scoped tokens. */
  adminToken: pulumi.Output<string>;
}

export interface AdminToolSecrets {
  pgadminPassword: pulumi.Output<string>;
  mongoExpressPassword: pulumi.Output<string>;
  mongoExpressSessionSecret: pulumi.Output<string>;
  mongoExpressCookieSecret: pulumi.Output<string>;
}

export class StackSecrets extends pulumi.ComponentResource {
  readonly postgres: PostgresSecrets;
  readonly mongo: MongoSecrets;
  readonly redis: RedisSecrets;
  readonly influxdb: InfluxdbSecrets;
  readonly adminTools: AdminToolSecrets | undefined;
  /** Kubernetes: HMAC key of the credential hashes in pod templates (a change rolls the pods, the hash reveals nothing). */
  readonly rolloutKey: pulumi.Output<string> | undefined;

  constructor(name: string, args: StackSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:secrets:StackSecrets", name, {}, opts);
    const length = args.passwordLength ?? 32;
    // `id` alone was the resource's name in earlier releases.
    const generated = (id: string, size = length) =>
      new random.RandomPassword(
        `${name}-${id}`,
        { length: size, special: false, minLower: 2, minUpper: 2, minNumeric: 2 },
        { parent: this, ...formerlyNamed(id, `${name}-${id}`) },
      ).result;
    /** The user's value for `key` when set (no RandomPassword then), else a generated one. */
    const password = (id: string, key: SecretKeyName, size = length) => {
      const own = args.userSecrets[key];
      return own === undefined ? generated(id, size) : pulumi.secret(own);
    };

    const ownerKeys: Record<string, SecretKeyName> = { trading_platform: "postgresPlatformOwnerPassword", trading_results: "postgresResultsOwnerPassword" };
    const owners: Record<string, pulumi.Output<string>> = {};
    for (const db of POSTGRES_DATABASES) owners[db.name] = password(`postgres-${db.owner.replace(/_/g, "-")}-password`, ownerKeys[db.name]);
    const serviceKeys: Record<string, SecretKeyName> = { trading_platform: "postgresPlatformServicePassword", trading_results: "postgresResultsServicePassword" };
    const services: Record<string, pulumi.Output<string>> = {};
    for (const db of POSTGRES_DATABASES) services[db.name] = password(`postgres-${db.service.replace(/_/g, "-")}-password`, serviceKeys[db.name]);

    this.postgres = {
      superuser: password(`postgres-${POSTGRES_ROLES.superuser}-password`, "postgresSuperuserPassword"),
      replication: password(`postgres-${POSTGRES_ROLES.replication}-password`, "postgresReplicationPassword"),
      owners,
      services,
      readonly: password(`postgres-${POSTGRES_ROLES.readonly.replace(/_/g, "-")}-password`, "postgresReadonlyPassword"),
      ...(args.kubernetes ? { monitor: generated(`postgres-${POSTGRES_ROLES.monitor.replace(/_/g, "-")}-password`) } : {}),
      // On Kubernetes pgAdmin logs in as the monitoring role (the operator's managed roles).
      ...(args.adminTools && !args.kubernetes ? { adminTools: generated(`postgres-${POSTGRES_ROLES.adminTools.replace(/_/g, "-")}-password`) } : {}),
    };
    this.mongo = {
      root: password("mongo-root-password", "mongoRootPassword"),
      app: password("mongo-app-password", "mongoAppPassword"),
      readonly: password("mongo-readonly-password", "mongoReadonlyPassword"),
      // MongoDB accepts 6-1024 characters of the base64 alphabet; letters and digits qualify.
      keyfile: generated("mongo-keyfile", 756),
      ...(args.adminTools ? { adminTools: generated("mongo-admin-tools-password") } : {}),
    };
    this.redis = {
      admin: password("redis-admin-password", "redisAdminPassword"),
      app: password("redis-app-password", "redisAppPassword"),
      healthcheck: generated("redis-healthcheck-password"),
    };
    this.influxdb = {
      adminPassword: password("influxdb-admin-password", "influxdbAdminPassword"),
      // Setup mode's operator token. Not a user setting: on a bolt file kept from an earlier stack the
      // hook signs in with the admin password and works with a token of its own (see init/influxdb).
      adminToken: generated("influxdb-admin-token", 64),
    };
    this.adminTools = args.adminTools
      ? {
          pgadminPassword: password("pgadmin-password", "pgadminPassword"),
          mongoExpressPassword: password("mongo-express-password", "mongoExpressPassword"),
          mongoExpressSessionSecret: generated("mongo-express-session-secret", 48),
          mongoExpressCookieSecret: generated("mongo-express-cookie-secret", 48),
        }
      : undefined;
    this.rolloutKey = args.kubernetes ? generated("kubernetes-rollout-key", 64) : undefined;
    this.registerOutputs({});
  }
}
