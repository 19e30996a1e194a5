import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
  ADMIN_PATHS,
  adminToolNames,
  MONGO_EXPRESS_CONTAINER_PORT,
  MONGO_EXPRESS_USER,
  mongoExpressEnv,
  mongoExpressHealthcheck,
  PGADMIN_CONTAINER_PORT,
  PGADMIN_EMAIL,
  pgadminEnv,
  pgadminHealthcheck,
  pgadminServersJson,
  pgpassFile,
  type PgadminServer,
} from "./admin-tools-spec";
import { LOOPBACK, type AdminToolsConfig, type StackConfig } from "./config";
import { scriptUpload, type Healthcheck } from "./container-spec";
import { SERVICE_CONTAINER_OPTIONS, serviceContainerArgs } from "./network";
import { MONGO_USERS, mongoReplicaSetUri, type ReplicaSetMember } from "./mongo-spec";
import { POSTGRES_ROLES } from "./postgres-spec";
import type { AdminToolSecrets } from "./secrets";

// pgAdmin (every PostgreSQL server pre-registered, logging in through a passfile) and
// mongo-express (on the replica-set URI), for developers: generated logins, 127.0.0.1 only,
// health-gated like the databases. Built only when `adminTools` is true.

export interface AdminToolsArgs {
  config: StackConfig;
  tools: AdminToolsConfig;
  secrets: AdminToolSecrets;
  networks: { db: docker.Network; app: docker.Network };
  /** The PostgreSQL primary and replicas, as pgAdmin reaches them on the database network. */
  postgresServers: PgadminServer[];
  postgresSuperuserPassword: pulumi.Output<string>;
  mongoMembers: ReplicaSetMember[];
  mongoRootPassword: pulumi.Output<string>;
  /** Texts of init/scripts/pgadmin-entrypoint.sh and mongo-express-entrypoint.sh. */
  pgadminEntrypoint: string;
  mongoExpressEntrypoint: string;
  /** What the tools need up first: the databases' init hooks. */
  dependsOn: pulumi.Resource[];
  labels: docker.types.input.ContainerLabel[];
}

export interface AdminToolEndpoints {
  pgadmin: { container: string; url: string; email: string };
  mongoExpress: { container: string; url: string; user: string };
}

export class AdminTools extends pulumi.ComponentResource {
  readonly endpoints: AdminToolEndpoints;
  /** Secret. */
  readonly logins: pulumi.Output<{ pgadmin: { email: string; password: string }; mongoExpress: { user: string; password: string } }>;

  constructor(name: string, args: AdminToolsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:admin:Tools", name, {}, opts);
    const { config, tools, secrets, networks, labels } = args;
    const names = adminToolNames(config.namePrefix);
    // The database network reaches the databases; the app network carries the published port.
    const common = (alias: string, role: string, healthcheck: Healthcheck) =>
      serviceContainerArgs({ networks, labels, alias, role, waitTimeoutSeconds: config.waitTimeoutSeconds, stopGraceSeconds: 10, healthcheck });

    const pgadminImage = new docker.RemoteImage("pgadmin-image", { name: tools.pgadminImage, keepLocally: true }, { parent: this });
    const pgadminData = new docker.Volume(
      "pgadmin-data",
      { name: names.pgadminVolume, labels },
      { parent: this, retainOnDelete: config.retainData },
    );
    new docker.Container(
      "pgadmin",
      {
        ...common(names.pgadminHost, "pgadmin", pgadminHealthcheck()),
        name: names.pgadminContainer,
        image: pgadminImage.imageId,
        entrypoints: [ADMIN_PATHS.pgadminEntrypoint],
        envs: pgadminEnv(),
        ports: [{ internal: PGADMIN_CONTAINER_PORT, external: tools.pgadminPort, ip: LOOPBACK }],
        volumes: [{ volumeName: pgadminData.name, containerPath: ADMIN_PATHS.pgadminData }],
        uploads: [
          scriptUpload(ADMIN_PATHS.pgadminEntrypoint, args.pgadminEntrypoint),
          { file: ADMIN_PATHS.pgadminServers, content: pgadminServersJson(args.postgresServers, POSTGRES_ROLES.superuser) },
          { file: ADMIN_PATHS.pgadminPasswordFile, content: pulumi.secret(secrets.pgadminPassword) },
          {
            file: ADMIN_PATHS.pgadminPgpassSource,
            content: pulumi.secret(args.postgresSuperuserPassword.apply((password) => pgpassFile(args.postgresServers, POSTGRES_ROLES.superuser, password))),
          },
        ],
      },
      { parent: this, ...SERVICE_CONTAINER_OPTIONS, dependsOn: args.dependsOn },
    );

    const mongoExpressImage = new docker.RemoteImage("mongo-express-image", { name: tools.mongoExpressImage, keepLocally: true }, { parent: this });
    const mongoUrl = args.mongoRootPassword.apply((password) =>
      mongoReplicaSetUri({ user: MONGO_USERS.root, password, database: "admin" }, args.mongoMembers),
    );
    new docker.Container(
      "mongo-express",
      {
        ...common(names.mongoExpressHost, "mongo-express", mongoExpressHealthcheck()),
        name: names.mongoExpressContainer,
        image: mongoExpressImage.imageId,
        // The image's entrypoint stays: the wrapper runs first and then hands over to it.
        entrypoints: ["/sbin/tini", "--", ADMIN_PATHS.mongoExpressEntrypoint],
        command: ["/docker-entrypoint.sh", "mongo-express"],
        envs: mongoExpressEnv(),
        ports: [{ internal: MONGO_EXPRESS_CONTAINER_PORT, external: tools.mongoExpressPort, ip: LOOPBACK }],
        uploads: [
          scriptUpload(ADMIN_PATHS.mongoExpressEntrypoint, args.mongoExpressEntrypoint),
          { file: ADMIN_PATHS.mongoExpressUrlFile, content: pulumi.secret(mongoUrl) },
          { file: ADMIN_PATHS.mongoExpressPasswordFile, content: pulumi.secret(secrets.mongoExpressPassword) },
          { file: ADMIN_PATHS.mongoExpressSessionSecretFile, content: pulumi.secret(secrets.mongoExpressSessionSecret) },
          { file: ADMIN_PATHS.mongoExpressCookieSecretFile, content: pulumi.secret(secrets.mongoExpressCookieSecret) },
        ],
      },
      { parent: this, ...SERVICE_CONTAINER_OPTIONS, dependsOn: args.dependsOn },
    );

    this.endpoints = {
      pgadmin: { container: names.pgadminContainer, url: `http://${LOOPBACK}:${tools.pgadminPort}`, email: PGADMIN_EMAIL },
      mongoExpress: { container: names.mongoExpressContainer, url: `http://${LOOPBACK}:${tools.mongoExpressPort}`, user: MONGO_EXPRESS_USER },
    };
    this.logins = pulumi.secret(
      pulumi.all([secrets.pgadminPassword, secrets.mongoExpressPassword]).apply(([pgadmin, mongoExpress]) => ({
        pgadmin: { email: PGADMIN_EMAIL, password: pgadmin },
        mongoExpress: { user: MONGO_EXPRESS_USER, password: mongoExpress },
      })),
    );
    this.registerOutputs({ endpoints: this.endpoints, logins: this.logins });
  }
}
