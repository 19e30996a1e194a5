import * as pulumi from "@pulumi/pulumi";
import { MONGO_EXPRESS_USER, PGADMIN_EMAIL, adminToolNames, mongoExpressSpec, pgadminSpec, pgpassFile, type PgadminServer } from "./admin-tools-spec";
import type { AdminToolsConfig, CommonConfig } from "./config";
import { placeServer, serverImage, type Engine } from "./engine";
import { mongoReplicaSetUri, type ReplicaSetMember } from "./mongo-spec";
import type { AdminToolSecrets } from "./secrets";
import type { Labels } from "./kubernetes/network-policy";
import { POSTGRES_CONTAINER_PORT } from "./postgres-spec";
import { MONGO_CONTAINER_PORT } from "./mongo-spec";

// pgAdmin (every PostgreSQL server pre-registered, logging in through a passfile) and
// mongo-express (on the replica-set URI), for developers: generated logins, health-gated like the
// databases. On Docker published on 127.0.0.1 only; on Kubernetes stateless Deployments behind
// ClusterIP Services, reached with `kubectl port-forward`. Built only when `adminTools` is true.

export interface AdminToolsArgs {
  tools: AdminToolsConfig;
  common: CommonConfig;
  engine: Engine;
  secrets: AdminToolSecrets;
  /** The PostgreSQL primary and replicas, as pgAdmin reaches them. */
  postgresServers: PgadminServer[];
  /** Whom pgAdmin logs in as: the superuser on Docker, the monitoring role on Kubernetes (PostgresCluster.adminLogin). */
  postgresLogin: { user: string; password: pulumi.Output<string> };
  mongoMembers: ReplicaSetMember[];
  /** Kubernetes: the labels of the PostgreSQL instances' and the MongoDB members' pods, the only pods the tools may reach. */
  kubernetesPods?: { postgres: Labels; mongo: Labels };
  /** mongo-express's own MongoDB user (readAnyDatabase), made by the MongoDB hook. */
  mongoLogin: { user: string; password: pulumi.Output<string> };
  /** Texts of init/scripts/pgadmin-entrypoint.sh and mongo-express-entrypoint.sh. */
  pgadminEntrypoint: string;
  mongoExpressEntrypoint: string;
  /** What the tools need up first: the databases' init hooks. */
  dependsOn: pulumi.Resource[];
  /** With `tls`: the stack's CA certificate, which both tools verify the databases against. */
  tlsCa?: pulumi.Output<string>;
}

export interface AdminToolEndpoints {
  /** `container` is the Docker container, or the Kubernetes Deployment; `url` is on 127.0.0.1 (on Kubernetes, through `kubectl port-forward`). */
  pgadmin: { container: string; url: string; email: string };
  mongoExpress: { container: string; url: string; user: string };
}

export class AdminTools extends pulumi.ComponentResource {
  readonly endpoints: AdminToolEndpoints;
  /** Secret. */
  readonly logins: pulumi.Output<{ pgadmin: { email: string; password: string }; mongoExpress: { user: string; password: string } }>;

  constructor(name: string, args: AdminToolsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:admin:Tools", name, {}, opts);
    const { tools, common, engine, secrets } = args;
    const names = adminToolNames(common.namePrefix);
    const tls = args.tlsCa !== undefined;
    const caFile: Record<string, pulumi.Input<string>> = args.tlsCa ? { tlsCa: args.tlsCa } : {};
    // Resources are named `${name}-pgadmin-…`; in earlier releases `pgadmin-…` alone.
    const image = (tool: string, reference: string) => serverImage(engine, `${name}-${tool}-image`, reference, this, `${tool}-image`);
    // Stateless on Kubernetes: servers.json and the passfile are written again at every start.
    // Nothing connects to them but port-forwards; each reaches its own database's pods only.
    const kubernetes = (tool: string, reaches: Array<{ pods: Labels | undefined; port: number }>) => ({
      resourceName: `${name}-${tool}`,
      kind: "Deployment" as const,
      network: { reaches: reaches.flatMap((r) => (r.pods ? [{ pods: r.pods, port: r.port }] : [])) },
    });

    const pgadmin = placeServer(
      engine,
      {
        spec: pgadminSpec(tools.pgadminImage, args.postgresServers, args.postgresLogin.user, args.pgadminEntrypoint, tls),
        secrets: {
          ...caFile,
          pgadminPassword: secrets.pgadminPassword,
          pgpass: args.postgresLogin.password.apply((password) => pgpassFile(args.postgresServers, args.postgresLogin.user, password)),
        },
        hostPort: tools.pgadminPort,
        docker: {
          image: image("pgadmin", tools.pgadminImage),
          resourceNames: { container: `${name}-pgadmin`, volumes: { data: `${name}-pgadmin-data` } },
          formerResourceNames: { container: "pgadmin", volumes: { data: "pgadmin-data" } },
          containerName: names.pgadminContainer,
          volumeNames: { data: names.pgadminVolume },
        },
        kubernetes: kubernetes("pgadmin", [{ pods: args.kubernetesPods?.postgres, port: POSTGRES_CONTAINER_PORT }]),
        dependsOn: args.dependsOn,
      },
      this,
    );

    // With tls the URI stays as it is: mongo-express sets TLS itself, from its environment (mongoExpressEnv).
    const mongoUrl = args.mongoLogin.password.apply((password) => mongoReplicaSetUri({ user: args.mongoLogin.user, password, database: "admin" }, args.mongoMembers));
    const mongoExpress = placeServer(
      engine,
      {
        spec: mongoExpressSpec(tools.mongoExpressImage, args.mongoExpressEntrypoint, tools.access, tls),
        secrets: { ...caFile, url: mongoUrl, password: secrets.mongoExpressPassword, sessionSecret: secrets.mongoExpressSessionSecret, cookieSecret: secrets.mongoExpressCookieSecret },
        hostPort: tools.mongoExpressPort,
        docker: {
          image: image("mongo-express", tools.mongoExpressImage),
          resourceNames: { container: `${name}-mongo-express`, volumes: {} },
          formerResourceNames: { container: "mongo-express", volumes: {} },
          containerName: names.mongoExpressContainer,
          volumeNames: {},
        },
        kubernetes: kubernetes("mongo-express", [{ pods: args.kubernetesPods?.mongo, port: MONGO_CONTAINER_PORT }]),
        dependsOn: args.dependsOn,
      },
      this,
    );

    const url = (port: number) => `http://${pgadmin.host.host}:${port}`;
    this.endpoints = {
      pgadmin: { container: pgadmin.name, url: url(tools.pgadminPort), email: PGADMIN_EMAIL },
      mongoExpress: { container: mongoExpress.name, url: url(tools.mongoExpressPort), user: MONGO_EXPRESS_USER },
    };
    this.logins = pulumi.secret(
      pulumi.all([secrets.pgadminPassword, secrets.mongoExpressPassword]).apply(([pgadminPassword, mongoExpressPassword]) => ({
        pgadmin: { email: PGADMIN_EMAIL, password: pgadminPassword },
        mongoExpress: { user: MONGO_EXPRESS_USER, password: mongoExpressPassword },
      })),
    );
    this.registerOutputs({ endpoints: this.endpoints, logins: this.logins });
  }
}
