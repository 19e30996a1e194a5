import * as pulumi from "@pulumi/pulumi";
import type { MongoDatabaseFiles } from "../init/mongo/files";
import { MongoInit } from "../init/mongo/resources";
import { scriptsChecksum } from "../init/versioned-files";
import type { AdminToolsAccess, CommonConfig, MongoConfig } from "./config";
import { hookAccess, placeServer, serverTlsSecrets, serverImage, type Engine, type PlaceServerArgs, type PlacedServer, type ServerAccess } from "./engine";
import { MONGO_EXPRESS_SERVICE } from "./admin-tools-spec";
import { disruptionBudget } from "./kubernetes/context";
import type { Labels } from "./kubernetes/network-policy";
import {
  MONGO_DATABASE,
  MONGO_REPLICA_SET,
  MONGO_USERS,
  mongoDirectUri,
  mongoMemberSpec,
  mongoNames,
  mongoReplicaSetUri,
  replicaSetMembers,
  tradingSimulationMongoEnv,
  type ReplicaSetMember,
} from "./mongo-spec";
import type { MongoSecrets } from "./secrets";
import type { Endpoint } from "./server-spec";
import type { ServiceEnvPart } from "./service-env";
import { verifyingCa, type ServerTls } from "./tls";

// MongoDB replica set: N members (ready) -> init hook (initiate, config, users, collections, seed
// documents). On Docker one container per member; on Kubernetes one StatefulSet of N pods,
// addressed by their stable DNS names.

export interface MongoReplicaSetArgs {
  mongo: MongoConfig;
  common: CommonConfig;
  engine: Engine;
  secrets: MongoSecrets;
  /** Migrations and seeds of trading_configs, loaded and validated before any resource is created. */
  files: MongoDatabaseFiles;
  /** Text of init/scripts/mongo-entrypoint.sh. */
  entrypoint: string;
  /** What mongo-express's user may do, when the admin tools are deployed. */
  adminToolsAccess?: AdminToolsAccess;
  /** With `tls`: the stack's CA issues each member's certificate (TLS only, members included); clients read the CA from `client.caFile`. */
  tls?: ServerTls;
}

export interface MongoMemberServer {
  container: string;
  host: Endpoint;
  network: Endpoint;
}

export interface MongoUris {
  /** readWrite on trading_configs, every member, replicaSet=: for containers on the app network. */
  app: string;
  /**
   * readWrite, direct (directConnection=true) to 127.0.0.1:mongoFirstPort, for processes on the
   * operator's machine, where the set's member names do not resolve: Docker's member 1 (the
   * preferred primary); on Kubernetes whichever member is primary, through `npm run forward`.
   */
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

  /** How the hook and `npm run verify` reach each member. */
  readonly access: ServerAccess[];
  /** Kubernetes: the labels of the members' pods (for the NetworkPolicies of those that reach them). */
  readonly podLabels: Labels | undefined;

  constructor(name: string, args: MongoReplicaSetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:mongo:ReplicaSet", name, {}, opts);
    const { mongo, common, engine, secrets } = args;
    const names = mongoNames(common.namePrefix);
    // The key only: root's password reaches no member (the hook sets it), so its change restarts none.
    const tls = args.tls !== undefined;
    // With tls the member's certificate and key too, in one file as mongod reads them.
    const memberSecrets = (server: string, names: { service: string; container: string; replicas?: number }) => ({
      keyfile: secrets.keyfile,
      ...serverTlsSecrets(engine, args.tls, server, names, this, "keyPair"),
    });
    const placed: PlacedServer[] = [];
    let podLabels: Labels | undefined;
    if (engine.kind === "docker") {
      const image = serverImage(engine, `${name}-image`, mongo.image, this);
      // Each member waits for the one after it: a change that replaces them all (an image, the
      // keyfile) replaces one at a time, each serving again (a secondary, caught up) before the
      // next goes, from the last to member 1, the preferred primary (mongod 5.0+ steps down on
      // SIGTERM). A majority stays up. The price: a new stack starts its members one by one.
      let next: pulumi.Resource | undefined;
      for (let n = mongo.members; n >= 1; n--) {
        const member: PlaceServerArgs = {
          spec: mongoMemberSpec(mongo, names.host(n), `mongodb-member-${n}`, args.entrypoint, tls),
          // With tls each member its own certificate, for its name on the networks.
          secrets: memberSecrets(`mongo-${n}`, { service: names.host(n), container: names.container(n) }),
          hostPort: mongo.firstPort + n - 1,
          docker: {
            image,
            resourceNames: { container: `${name}-${n}`, volumes: { data: `${name}-${n}-data`, config: `${name}-${n}-config` } },
            containerName: names.container(n),
            volumeNames: { data: names.dataVolume(n), config: names.configVolume(n) },
          },
          dependsOn: next ? [next] : [],
        };
        const server = placeServer(engine, member, this);
        placed.unshift(server);
        next = server.resource;
      }
    } else {
      const context = engine.kubernetes;
      const service = names.host(1);
      const set = placeServer(
        engine,
        {
          spec: mongoMemberSpec(mongo, service, "mongodb-member", args.entrypoint, tls),
          // With tls one certificate for the set (one pod template): every pod's name.
          secrets: memberSecrets("mongo", { service, container: service, replicas: mongo.members }),
          hostPort: mongo.firstPort,
          // No client Service: it would round-robin over primary and secondaries; clients list the pods.
          kubernetes: {
            resourceName: `${name}-members`,
            storageGb: mongo.storageGb,
            replicas: mongo.members,
            clientService: false,
            // The members replicate among themselves; mongo-express shows the set when the tools are on.
            network: { database: "mongodb", peers: true, admits: args.adminToolsAccess ? [MONGO_EXPRESS_SERVICE] : [] },
          },
        },
        this,
      );
      // One member down at a time at most, and never the majority an election needs.
      const budgetNames = { objectName: `${set.name}-majority`, resourceName: `${name}-majority` };
      if (mongo.members > 1) disruptionBudget(context, budgetNames, set.selector ?? {}, { minAvailable: Math.floor(mongo.members / 2) + 1 }, { parent: this });
      podLabels = set.selector;
      set.members.forEach((m, i) => placed.push({ ...set, network: m.network, access: m.access, host: { host: set.host.host, port: mongo.firstPort + i } }));
    }
    for (const member of placed) this.members.push({ container: member.name, host: member.host, network: member.network });
    this.access = placed.map((m) => m.access);
    this.podLabels = podLabels;
    const rsMembers = replicaSetMembers(placed.map((m) => m.network));
    this.rsMembers = rsMembers;

    const dbRoles = (role: string) => [{ role, db: MONGO_DATABASE }];
    this.init = new MongoInit(
      `${name}-init`,
      {
        replicaSetName: MONGO_REPLICA_SET,
        members: rsMembers,
        clientEndpoints: placed.map((m) => hookAccess(m.access)),
        electionTimeoutMs: mongo.electionTimeoutMs,
        rootUser: MONGO_USERS.root,
        rootPassword: secrets.root,
        keyfile: secrets.keyfile,
        ...verifyingCa(args.tls),
        database: MONGO_DATABASE,
        users: pulumi.all([secrets.app, secrets.readonly, secrets.adminTools]).apply(([app, readonly, adminTools]) => [
          { name: MONGO_USERS.app, password: app, roles: dbRoles("readWrite") },
          { name: MONGO_USERS.readonly, password: readonly, roles: dbRoles("read") },
          ...(adminTools === undefined ? [] : [{ name: MONGO_USERS.adminTools, password: adminTools, roles: adminToolsRoles(args.adminToolsAccess) }]),
        ]),
        // Dropped when declared no more (the admin tools turned off): nobody keeps a login it had.
        retiredUsers: secrets.adminTools === undefined ? [MONGO_USERS.adminTools] : [],
        migrations: args.files.migrations,
        seeds: args.files.seeds,
        timeoutSeconds: Math.max(INIT_TIMEOUT_FLOOR_SECONDS, common.waitTimeoutSeconds),
        filesChecksum: scriptsChecksum([args.files]),
        memberIds: pulumi.all(placed.map((m) => m.revision)),
      },
      { parent: this, dependsOn: placed.map((m) => m.resource) },
    );

    const member1 = this.members[0];
    this.uris = pulumi.secret(
      pulumi.all([secrets.app, secrets.readonly]).apply(([app, readonly]) => {
        const appUser = { user: MONGO_USERS.app, password: app, database: MONGO_DATABASE };
        const readonlyUser = { user: MONGO_USERS.readonly, password: readonly, database: MONGO_DATABASE };
        return {
          app: mongoReplicaSetUri(appUser, rsMembers, undefined, args.tls?.client),
          appHost: mongoDirectUri(appUser, member1.host, args.tls?.client),
          readonly: mongoReplicaSetUri(readonlyUser, rsMembers, "secondaryPreferred", args.tls?.client),
          readonlyHost: mongoDirectUri(readonlyUser, member1.host, args.tls?.client),
        };
      }),
    );
    this.env = pulumi.secret(
      pulumi.all([secrets.app, this.uris]).apply(([app, uris]) => ({
        inNetwork: { "trading-simulation": tradingSimulationMongoEnv(MONGO_USERS.app, app, member1.network, uris.app, args.tls?.client) },
        host: { "trading-simulation": tradingSimulationMongoEnv(MONGO_USERS.app, app, member1.host, uris.appHost, args.tls?.client) },
      })),
    );
    this.registerOutputs({ members: this.members, uris: this.uris, env: this.env });
  }
}

/**
 * mongo-express's roles: every database read (or read and written), and clusterMonitor for the
 * server status its admin page shows (serverStatus, replSetGetStatus: read-only); never root.
 */
export function adminToolsRoles(access: AdminToolsAccess | undefined): Array<{ role: string; db: string }> {
  return [
    { role: access === "read-write" ? "readWriteAnyDatabase" : "readAnyDatabase", db: "admin" },
    { role: "clusterMonitor", db: "admin" },
  ];
}
