import * as pulumi from "@pulumi/pulumi";
import { InfluxdbInit } from "../init/influxdb/resources";
import type { CommonConfig, InfluxdbConfig } from "./config";
import { kubernetesTarget, placeServer, serverTlsSecrets, serverImage, type Engine, type ServerAccess } from "./engine";
import {
  advancedTradingPlatformInfluxEnv,
  DOWNSAMPLE_TASK,
  downsampleFlux,
  INFLUXDB_ADMIN_USER,
  INFLUXDB_ORG,
  INFLUXDB_PRIMARY_BUCKET,
  INFLUXDB_TOKENS,
  influxBuckets,
  influxdbNames,
  influxdbSpec,
  influxdbUrl,
} from "./influxdb-spec";
import type { InfluxdbSecrets } from "./secrets";
import type { Endpoint } from "./server-spec";
import type { ServiceEnvPart } from "./service-env";
import { verifyingCa, type ServerTls } from "./tls";

// InfluxDB 2: setup mode (org, market-data, admin) -> init hook (buckets, downsampling task,
// scoped tokens for the services).

export interface InfluxdbServerArgs {
  influxdb: InfluxdbConfig;
  common: CommonConfig;
  engine: Engine;
  secrets: InfluxdbSecrets;
  /** Text of init/scripts/influxdb-entrypoint.sh. */
  entrypoint: string;
  /** With `tls`: the stack's CA issues the server's certificate (https only); clients read the CA from `client.caFile`. */
  tls?: ServerTls;
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

  /** How the hook and `npm run verify` reach it. */
  readonly access: ServerAccess;

  constructor(name: string, args: InfluxdbServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:influxdb:Server", name, {}, opts);
    const { influxdb, common, engine, secrets } = args;
    const names = influxdbNames(common.namePrefix);
    const tls = args.tls !== undefined;
    const tlsFiles = serverTlsSecrets(engine, args.tls, "influxdb", { service: names.host, container: names.container }, this);
    const server = placeServer(
      engine,
      {
        spec: influxdbSpec(influxdb, names.host, args.entrypoint, tls),
        // The operator token never reaches the container: the hook sets the server up with it.
        secrets: { adminPassword: secrets.adminPassword, ...tlsFiles },
        hostPort: influxdb.port,
        docker: {
          image: serverImage(engine, `${name}-image`, influxdb.image, this),
          resourceNames: { container: `${name}-server`, volumes: { data: `${name}-data`, config: `${name}-config` } },
          containerName: names.container,
          volumeNames: { data: names.dataVolume, config: names.configVolume },
        },
        kubernetes: { resourceName: `${name}-server`, storageGb: influxdb.storageGb, network: { database: "influxdb" } },
      },
      this,
    );

    this.container = server.name;
    this.host = server.host;
    this.network = server.network;
    this.access = server.access;
    const target = kubernetesTarget(server.access);
    this.init = new InfluxdbInit(
      `${name}-init`,
      {
        url: influxdbUrl(server.access, tls),
        ...(target ? { kubernetes: target } : {}),
        ...verifyingCa(args.tls),
        adminToken: secrets.adminToken,
        adminUser: INFLUXDB_ADMIN_USER,
        adminPassword: secrets.adminPassword,
        org: INFLUXDB_ORG,
        setupBucket: INFLUXDB_PRIMARY_BUCKET,
        buckets: influxBuckets(influxdb),
        task: { name: DOWNSAMPLE_TASK, flux: downsampleFlux(), description: `Hourly rollup of ${INFLUXDB_PRIMARY_BUCKET} (managed by trading-db-stack)` },
        tokens: INFLUXDB_TOKENS,
        timeoutSeconds: common.waitTimeoutSeconds,
        serverId: server.revision,
      },
      { parent: this, dependsOn: [server.resource] },
    );
    this.tokens = pulumi.secret(this.init.tokenValues);
    this.operatorToken = pulumi.secret(this.init.operatorToken);
    this.env = pulumi.secret(
      this.tokens.apply((tokens) => ({
        inNetwork: { "advanced-trading-platform": advancedTradingPlatformInfluxEnv(this.network, tokens.write, args.tls?.client) },
        host: { "advanced-trading-platform": advancedTradingPlatformInfluxEnv(this.host, tokens.write, args.tls?.client) },
      })),
    );
    this.registerOutputs({ host: this.host, network: this.network, tokens: this.tokens, env: this.env });
  }
}
