import * as crypto from "crypto";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { RedisSeeds } from "../init/redis/files";
import { RedisInit } from "../init/redis/resources";
import { LOOPBACK, type StackConfig } from "./config";
import { SERVICE_CONTAINER_OPTIONS, serviceContainerArgs } from "./network";
import type { Endpoint } from "./container-spec";
import {
  REDIS_CONTAINER_PORT,
  REDIS_PATHS,
  REDIS_USERS,
  redisAclFile,
  redisConf,
  redisContainerMemoryMb,
  redisHealthcheck,
  redisNames,
  redisUrl,
} from "./redis-spec";
import type { RedisSecrets } from "./secrets";
import type { ServiceEnvPart } from "./service-env";

// Redis on Docker: ACL users, AOF on its volume -> init hook (seed keys where absent).

export interface RedisServerArgs {
  config: StackConfig;
  secrets: RedisSecrets;
  networks: { db: docker.Network; app: docker.Network };
  seeds: RedisSeeds;
  labels: docker.types.input.ContainerLabel[];
}

export class RedisServer extends pulumi.ComponentResource {
  readonly container: string;
  readonly host: Endpoint;
  readonly network: Endpoint;
  readonly init: RedisInit;
  /** REDIS_URL for the app user, on the app network and on the host. Secret. */
  readonly urls: pulumi.Output<{ inNetwork: string; host: string }>;
  readonly env: pulumi.Output<ServiceEnvPart>;

  constructor(name: string, args: RedisServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:redis:Server", name, {}, opts);
    const { config, secrets, networks, labels } = args;
    const names = redisNames(config.namePrefix);
    const sha256 = (text: string) => crypto.createHash("sha256").update(text, "utf8").digest("hex");

    const image = new docker.RemoteImage("redis-image", { name: config.redis.image, keepLocally: true }, { parent: this });
    const volume = new docker.Volume(
      "redis-data",
      { name: names.volume, labels },
      { parent: this, retainOnDelete: config.retainData },
    );
    const aclFile = pulumi
      .all([secrets.admin, secrets.app, secrets.healthcheck])
      .apply(([admin, app, healthcheck]) => redisAclFile({ admin: sha256(admin), app: sha256(app), healthcheck: sha256(healthcheck) }));
    const container = new docker.Container(
      "redis-server",
      {
        // Time to finish the AOF fsync and write the RDB snapshot on shutdown.
        ...serviceContainerArgs({ networks, labels, alias: names.host, role: "redis", waitTimeoutSeconds: config.waitTimeoutSeconds, stopGraceSeconds: 30, healthcheck: redisHealthcheck() }),
        name: names.container,
        image: image.imageId,
        memory: redisContainerMemoryMb(config.redis),
        command: ["redis-server", REDIS_PATHS.config],
        ports: [{ internal: REDIS_CONTAINER_PORT, external: config.redis.port, ip: LOOPBACK }],
        volumes: [{ volumeName: volume.name, containerPath: REDIS_PATHS.data }],
        uploads: [
          { file: REDIS_PATHS.config, content: redisConf(config.redis) },
          // Hashes only, but they still let anyone try passwords offline: kept secret.
          { file: REDIS_PATHS.aclFile, content: pulumi.secret(aclFile) },
          { file: REDIS_PATHS.healthcheckPasswordFile, content: pulumi.secret(secrets.healthcheck) },
        ],
      },
      { parent: this, ...SERVICE_CONTAINER_OPTIONS },
    );

    this.container = names.container;
    this.host = { host: LOOPBACK, port: config.redis.port };
    this.network = { host: names.host, port: REDIS_CONTAINER_PORT };
    this.init = new RedisInit(
      "redis-init",
      {
        host: this.host.host,
        port: this.host.port,
        user: REDIS_USERS.admin,
        password: secrets.admin,
        seeds: args.seeds.keys,
        seedsChecksum: args.seeds.checksum,
        timeoutSeconds: config.waitTimeoutSeconds,
        serverId: container.id,
      },
      { parent: this, dependsOn: [container] },
    );
    this.urls = pulumi.secret(
      secrets.app.apply((app) => ({ inNetwork: redisUrl(REDIS_USERS.app, app, this.network), host: redisUrl(REDIS_USERS.app, app, this.host) })),
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
