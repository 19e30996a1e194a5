import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { POSTGRES_DATABASES, POSTGRES_ROLES } from "./postgres-spec";

// Every credential of the stack, generated once by @pulumi/random and kept in the stack state
// (encrypted). Nothing is defaulted: there is no password a user could forget to change.

export interface StackSecretsArgs {
  /** Length of generated passwords; alphanumeric so they need no quoting in URIs and conninfo strings. */
  passwordLength?: number;
  /** Generate the admin tools' logins (only when the tools are deployed). */
  adminTools: boolean;
}

export interface PostgresSecrets {
  superuser: pulumi.Output<string>;
  replication: pulumi.Output<string>;
  /** Owner role password per database name. */
  owners: Record<string, pulumi.Output<string>>;
  readonly: pulumi.Output<string>;
}

export interface MongoSecrets {
  root: pulumi.Output<string>;
  app: pulumi.Output<string>;
  readonly: pulumi.Output<string>;
  /** Shared key the members authenticate each other with (keyFile): 756 base64-alphabet characters. */
  keyfile: pulumi.Output<string>;
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

  constructor(name: string, args: StackSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:secrets:StackSecrets", name, {}, opts);
    const length = args.passwordLength ?? 32;
    const password = (id: string, size = length) =>
      new random.RandomPassword(id, { length: size, special: false, minLower: 2, minUpper: 2, minNumeric: 2 }, { parent: this })
        .result;

    const owners: Record<string, pulumi.Output<string>> = {};
    for (const db of POSTGRES_DATABASES) owners[db.name] = password(`postgres-${db.owner.replace(/_/g, "-")}-password`);

    this.postgres = {
      superuser: password(`postgres-${POSTGRES_ROLES.superuser}-password`),
      replication: password(`postgres-${POSTGRES_ROLES.replication}-password`),
      owners,
      readonly: password(`postgres-${POSTGRES_ROLES.readonly.replace(/_/g, "-")}-password`),
    };
    this.mongo = {
      root: password("mongo-root-password"),
      app: password("mongo-app-password"),
      readonly: password("mongo-readonly-password"),
      // MongoDB accepts 6-1024 characters of the base64 alphabet; letters and digits qualify.
      keyfile: password("mongo-keyfile", 756),
    };
    this.redis = {
      admin: password("redis-admin-password"),
      app: password("redis-app-password"),
      healthcheck: password("redis-healthcheck-password"),
    };
    this.influxdb = {
      adminPassword: password("influxdb-admin-password"),
      adminToken: password("influxdb-admin-token", 64),
    };
    this.adminTools = args.adminTools
      ? {
          pgadminPassword: password("pgadmin-password"),
          mongoExpressPassword: password("mongo-express-password"),
          mongoExpressSessionSecret: password("mongo-express-session-secret", 48),
          mongoExpressCookieSecret: password("mongo-express-cookie-secret", 48),
        }
      : undefined;
    this.registerOutputs({});
  }
}
