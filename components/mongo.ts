import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { MongoDatabaseFiles } from "../init/mongo/files";
import { MongoInit } from "../init/mongo/resources";
import { scriptsChecksum } from "../init/versioned-files";
import { LOOPBACK, type StackConfig } from "./config";
import { SERVICE_CONTAINER_OPTIONS, serviceContainerArgs } from "./network";
import {
  MONGO_CONTAINER_PORT,
  MONGO_DATABASE,
  MONGO_PATHS,
  MONGO_REPLICA_SET,
  MONGO_USERS,
  mongodCommand,
  mongoDirectUri,
  mongoEnv,
  mongoHealthcheck,
  mongoNames,
  mongoReplicaSetUri,
  replicaSetMembers,
  tradingSimulationMongoEnv,
  type ReplicaSetMember,
} from "./mongo-spec";
import { scriptUpload, type Endpoint } from "./container-spec";
import type { MongoSecrets } from "./secrets";
import type { ServiceEnvPart } from "./service-env";

// MongoDB replica set on Docker: N members (healthy) -> init hook (initiate, config, users,
// collections, seed documents).

export interface MongoReplicaSetArgs {
  config: StackConfig;
  secrets: MongoSecrets;
  networks: { db: docker.Network; app: docker.Network };
  /** Migrations and seeds of trading_configs, loaded and validated before any resource is created. */
  files: MongoDatabaseFiles;
  /** Text of init/scripts/mongo-entrypoint.sh. */
  entrypoint: string;
  labels: docker.types.input.ContainerLabel[];
}

export interface MongoMemberServer {
  container: string;
  host: Endpoint;
  network: Endpoint;
}

export interface MongoUris {
  /** readWrite on trading_configs, every member, replicaSet=: for containers on the app network. */
  app: string;
  /** readWrite, directConnection to member 1 on 127.0.0.1: for processes on the Docker host. */
  appHost: string;
  readonly: string;
  readonlyHost: string;
}

/** How long the hook may take: members answering, the first election, a step-down on the way. */
const INIT_TIMEOUT_FLOOR_SECONDS = 120;

export class MongoReplicaSet extends pulumi.ComponentResource {
  readonly replicaSetName = MONGO_REPLICA_SET;
  readonly members: MongoMemberServer[] = [];
  /** The replica-set config's members (in-network host names). */
  readonly rsMembers: ReplicaSetMember[];
  readonly init: MongoInit;
  /** Secret. */
  readonly uris: pulumi.Output<MongoUris>;
  /** Secret. */
  readonly env: pulumi.Output<ServiceEnvPart>;

  constructor(name: string, args: MongoReplicaSetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:mongo:ReplicaSet", name, {}, opts);
    const { config, secrets, networks, labels } = args;
    const mongo = config.mongo;
    const names = mongoNames(config.namePrefix);
    const retain = { retainOnDelete: config.retainData };
    const rsMembers = replicaSetMembers(names, mongo.members);
    this.rsMembers = rsMembers;

    const image = new docker.RemoteImage("mongo-image", { name: mongo.image, keepLocally: true }, { parent: this });
    const containers: docker.Container[] = [];
    for (let n = 1; n <= mongo.members; n++) {
      const hostPort = mongo.firstPort + n - 1;
      const data = new docker.Volume(`mongo-${n}-data`, { name: names.dataVolume(n), labels }, { parent: this, ...retain });
      const configdb = new docker.Volume(`mongo-${n}-config`, { name: names.configVolume(n), labels }, { parent: this, ...retain });
      const uploads: docker.types.input.ContainerUpload[] = [
        scriptUpload(MONGO_PATHS.entrypoint, args.entrypoint),
        { file: MONGO_PATHS.keyfileSource, content: pulumi.secret(secrets.keyfile) },
      ];
      if (n === 1) uploads.push({ file: MONGO_PATHS.rootPasswordFile, content: pulumi.secret(secrets.root) });
      containers.push(
        new docker.Container(
          `mongo-${n}`,
          {
            // A stop that is not a SIGKILL: no recovery on every replace.
            ...serviceContainerArgs({ networks, labels, alias: names.host(n), role: `mongodb-member-${n}`, waitTimeoutSeconds: config.waitTimeoutSeconds, stopGraceSeconds: 60, healthcheck: mongoHealthcheck() }),
            name: names.container(n),
            image: image.imageId,
            memory: mongo.memoryMb,
            entrypoints: [MONGO_PATHS.entrypoint],
            command: mongodCommand(mongo),
            envs: mongoEnv(n),
            ports: [{ internal: MONGO_CONTAINER_PORT, external: hostPort, ip: LOOPBACK }],
            volumes: [
              { volumeName: data.name, containerPath: MONGO_PATHS.dataDir },
              { volumeName: configdb.name, containerPath: MONGO_PATHS.configDir },
            ],
            uploads,
          },
          { parent: this, ...SERVICE_CONTAINER_OPTIONS },
        ),
      );
      this.members.push({ container: names.container(n), host: { host: LOOPBACK, port: hostPort }, network: { host: names.host(n), port: MONGO_CONTAINER_PORT } });
    }

    const dbRoles = (role: string) => [{ role, db: MONGO_DATABASE }];
    this.init = new MongoInit(
      "mongo-init",
      {
        replicaSetName: MONGO_REPLICA_SET,
        members: rsMembers,
        clientEndpoints: this.members.map((m) => m.host),
        electionTimeoutMs: mongo.electionTimeoutMs,
        rootUser: MONGO_USERS.root,
        rootPassword: secrets.root,
        keyfile: secrets.keyfile,
        database: MONGO_DATABASE,
        users: pulumi.all([secrets.app, secrets.readonly]).apply(([app, readonly]) => [
          { name: MONGO_USERS.app, password: app, roles: dbRoles("readWrite") },
          { name: MONGO_USERS.readonly, password: readonly, roles: dbRoles("read") },
        ]),
        migrations: args.files.migrations,
        seeds: args.files.seeds,
        timeoutSeconds: Math.max(INIT_TIMEOUT_FLOOR_SECONDS, config.waitTimeoutSeconds),
        filesChecksum: scriptsChecksum([args.files]),
        memberIds: pulumi.all(containers.map((c) => c.id)),
      },
      { parent: this, dependsOn: containers },
    );

    const member1 = this.members[0];
    this.uris = pulumi.secret(
      pulumi.all([secrets.app, secrets.readonly]).apply(([app, readonly]) => {
        const appUser = { user: MONGO_USERS.app, password: app, database: MONGO_DATABASE };
        const readonlyUser = { user: MONGO_USERS.readonly, password: readonly, database: MONGO_DATABASE };
        return {
          app: mongoReplicaSetUri(appUser, rsMembers),
          appHost: mongoDirectUri(appUser, member1.host),
          readonly: mongoReplicaSetUri(readonlyUser, rsMembers, "secondaryPreferred"),
          readonlyHost: mongoDirectUri(readonlyUser, member1.host),
        };
      }),
    );
    this.env = pulumi.secret(
      pulumi.all([secrets.app, this.uris]).apply(([app, uris]) => ({
        inNetwork: { "trading-simulation": tradingSimulationMongoEnv(MONGO_USERS.app, app, member1.network, uris.app) },
        host: { "trading-simulation": tradingSimulationMongoEnv(MONGO_USERS.app, app, member1.host, uris.appHost) },
      })),
    );
    this.registerOutputs({ members: this.members, uris: this.uris, env: this.env });
  }
}
