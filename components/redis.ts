import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import type { RedisSeeds } from "../init/redis/files";
import { RedisInit } from "../init/redis/resources";
import type { CommonConfig, RedisConfig } from "./config";
import { hookAccess, placeServer, serverTlsSecrets, serverImage, type Engine, type ServerAccess } from "./engine";
import { REDIS_USERS, redisAclFile, redisNames, redisSpec, redisUrl } from "./redis-spec";
import type { RedisSecrets } from "./secrets";
import type { Endpoint } from "./server-spec";
import type { ServiceEnvPart } from "./service-env";
import { verifyingCa, type ServerTls } from "./tls";

// Redis: ACL users, AOF on its volume -> init hook (seed keys where absent).

export interface RedisServerArgs {
  redis: RedisConfig;
  common: CommonConfig;
  engine: Engine;
  secrets: RedisSecrets;
  seeds: RedisSeeds;
  /** With `tls`: the stack's CA issues the server's certificate; clients read the CA from `client.caFile`. */
  tls?: ServerTls;
}

export class RedisServer extends pulumi.ComponentResource {
  readonly container: string;
  readonly host: Endpoint;
  readonly network: Endpoint;
  readonly init: RedisInit;
  /** REDIS_URL for the app user, on the app network and on the host. Secret. */
  readonly urls: pulumi.Output<{ inNetwork: string; host: string }>;
  readonly env: pulumi.Output<ServiceEnvPart>;

  /** How the hook and `npm run verify` reach it. */
  readonly access: ServerAccess;

  constructor(name: string, args: RedisServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:redis:Server", name, {}, opts);
    const { redis, common, engine, secrets } = args;
    const names = redisNames(common.namePrefix);
    const sha256 = (text: string) => crypto.createHash("sha256").update(text, "utf8").digest("hex");
    const aclFile = pulumi
      .all([secrets.admin, secrets.app, secrets.healthcheck])
      .apply(([admin, app, healthcheck]) => redisAclFile({ admin: sha256(admin), app: sha256(app), healthcheck: sha256(healthcheck) }));
    const tlsFiles = serverTlsSecrets(engine, args.tls, "redis", { service: names.host, container: names.container }, this);
    const server = placeServer(
      engine,
      {
        spec: redisSpec(redis, names.host, args.tls !== undefined),
        secrets: { acl: aclFile, healthcheck: secrets.healthcheck, ...tlsFiles },
        hostPort: redis.port,
        docker: {
          image: serverImage(engine, `${name}-image`, redis.image, this),
          resourceNames: { container: `${name}-server`, volumes: { data: `${name}-data` } },
          containerName: names.container,
          volumeNames: { data: names.volume },
        },
        kubernetes: { resourceName: `${name}-server`, storageGb: redis.storageGb, network: { database: "redis" } },
      },
      this,
    );

    this.container = server.name;
    this.host = server.host;
    this.network = server.network;
    this.access = server.access;
    this.init = new RedisInit(
      `${name}-init`,
      {
        ...hookAccess(server.access),
        user: REDIS_USERS.admin,
        password: secrets.admin,
        ...verifyingCa(args.tls),
        seeds: args.seeds.keys,
        seedsChecksum: args.seeds.checksum,
        timeoutSeconds: common.waitTimeoutSeconds,
        serverId: server.revision,
      },
      { parent: this, dependsOn: [server.resource] },
    );
    this.urls = pulumi.secret(
      secrets.app.apply((app) => ({ inNetwork: redisUrl(REDIS_USERS.app, app, this.network, args.tls?.client), host: redisUrl(REDIS_USERS.app, app, this.host, args.tls?.client) })),
    );
    this.env = pulumi.secret(
      this.urls.apply((urls) => ({
        inNetwork: { "advanced-trading-platform": { REDIS_URL: urls.inNetwork } },
        host: { "advanced-trading-platform": { REDIS_URL: urls.host } },
      })),
    );
    this.registerOutputs({ host: this.host, network: this.network, urls: this.urls, env: this.env });
  }
}
