import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { InfluxdbInit } from "../init/influxdb/resources";
import { LOOPBACK, type StackConfig } from "./config";
import { SERVICE_CONTAINER_OPTIONS, serviceContainerArgs } from "./network";
import {
  advancedTradingPlatformInfluxEnv,
  DOWNSAMPLE_TASK,
  downsampleFlux,
  INFLUXDB_ADMIN_USER,
  INFLUXDB_CONTAINER_PORT,
  INFLUXDB_ORG,
  INFLUXDB_PATHS,
  INFLUXDB_PRIMARY_BUCKET,
  INFLUXDB_TOKENS,
  influxBuckets,
  influxdbEnv,
  influxdbHealthcheck,
  influxdbNames,
  influxdbUrl,
} from "./influxdb-spec";
import { scriptUpload, type Endpoint } from "./container-spec";
import type { InfluxdbSecrets } from "./secrets";
import type { ServiceEnvPart } from "./service-env";

// InfluxDB 2 on Docker: setup mode (org, market-data, admin) -> init hook (buckets, downsampling
// task, scoped tokens for the services).

export interface InfluxdbServerArgs {
  config: StackConfig;
  secrets: InfluxdbSecrets;
  networks: { db: docker.Network; app: docker.Network };
  /** Text of init/scripts/influxdb-entrypoint.sh. */
  entrypoint: string;
  labels: docker.types.input.ContainerLabel[];
}

export class InfluxdbServer extends pulumi.ComponentResource {
  readonly container: string;
  readonly host: Endpoint;
  readonly network: Endpoint;
  readonly org = INFLUXDB_ORG;
  readonly bucket = INFLUXDB_PRIMARY_BUCKET;
  readonly init: InfluxdbInit;
  /** The token the init hook worked with: for `npm run verify` and operators. Secret. */
  readonly operatorToken: pulumi.Output<string>;
  /** The services' tokens: read, and read-write. Secret. */
  readonly tokens: pulumi.Output<Record<string, string>>;
  readonly env: pulumi.Output<ServiceEnvPart>;

  constructor(name: string, args: InfluxdbServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:influxdb:Server", name, {}, opts);
    const { config, secrets, networks, labels } = args;
    const names = influxdbNames(config.namePrefix);
    const retain = { retainOnDelete: config.retainData };

    const image = new docker.RemoteImage("influxdb-image", { name: config.influxdb.image, keepLocally: true }, { parent: this });
    const data = new docker.Volume("influxdb-data", { name: names.dataVolume, labels }, { parent: this, ...retain });
    const configVolume = new docker.Volume("influxdb-config", { name: names.configVolume, labels }, { parent: this, ...retain });
    const container = new docker.Container(
      "influxdb-server",
      {
        ...serviceContainerArgs({ networks, labels, alias: names.host, role: "influxdb", waitTimeoutSeconds: config.waitTimeoutSeconds, stopGraceSeconds: 30, healthcheck: influxdbHealthcheck() }),
        name: names.container,
        image: image.imageId,
        // The wrapper applies the declared admin password to a kept bolt file, then runs the image's entrypoint.
        entrypoints: [INFLUXDB_PATHS.entrypoint],
        command: ["influxd"],
        envs: influxdbEnv(),
        ports: [{ internal: INFLUXDB_CONTAINER_PORT, external: config.influxdb.port, ip: LOOPBACK }],
        volumes: [
          { volumeName: data.name, containerPath: INFLUXDB_PATHS.data },
          { volumeName: configVolume.name, containerPath: INFLUXDB_PATHS.config },
        ],
        uploads: [
          scriptUpload(INFLUXDB_PATHS.entrypoint, args.entrypoint),
          { file: INFLUXDB_PATHS.adminPasswordFile, content: pulumi.secret(secrets.adminPassword) },
          { file: INFLUXDB_PATHS.adminTokenFile, content: pulumi.secret(secrets.adminToken) },
        ],
      },
      { parent: this, ...SERVICE_CONTAINER_OPTIONS },
    );

    this.container = names.container;
    this.host = { host: LOOPBACK, port: config.influxdb.port };
    this.network = { host: names.host, port: INFLUXDB_CONTAINER_PORT };
    this.init = new InfluxdbInit(
      "influxdb-init",
      {
        url: influxdbUrl(this.host),
        adminToken: secrets.adminToken,
        adminUser: INFLUXDB_ADMIN_USER,
        adminPassword: secrets.adminPassword,
        org: INFLUXDB_ORG,
        buckets: influxBuckets(config.influxdb),
        task: { name: DOWNSAMPLE_TASK, flux: downsampleFlux(), description: `Hourly rollup of ${INFLUXDB_PRIMARY_BUCKET} (managed by trading-db-stack)` },
        tokens: INFLUXDB_TOKENS,
        timeoutSeconds: config.waitTimeoutSeconds,
        serverId: container.id,
      },
      { parent: this, dependsOn: [container] },
    );
    this.tokens = pulumi.secret(this.init.tokenValues);
    this.operatorToken = pulumi.secret(this.init.operatorToken);
    this.env = pulumi.secret(
      this.tokens.apply((tokens) => ({
        inNetwork: { "advanced-trading-platform": advancedTradingPlatformInfluxEnv(this.network, tokens.write) },
        host: { "advanced-trading-platform": advancedTradingPlatformInfluxEnv(this.host, tokens.write) },
      })),
    );
    this.registerOutputs({ host: this.host, network: this.network, tokens: this.tokens, env: this.env });
  }
}
