import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { loadDatabaseScripts, type DatabaseScripts } from "../init/postgres/scripts";
import { parseStackConfig, type ConfigLookup, type StackConfig } from "./config";
import { DockerNetworks } from "./network";
import { PostgresCluster } from "./postgres";
import { POSTGRES_DATABASES } from "./postgres-spec";
import { StackSecrets } from "./secrets";

// The whole stack. loadStackPlan reads and checks everything from disk and config first, so bad
// input fails before a single resource is registered; TradingDbStack then only builds resources.

export interface StackPlan {
  config: StackConfig;
  postgresScripts: DatabaseScripts[];
  replicaEntrypoint: string;
}

/** Project root: the folder holding Pulumi.yaml (this file is components/stack.ts, or bin/components/stack.js). */
export function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Pulumi.yaml not found above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

export function loadStackPlan(lookup: ConfigLookup, root = projectRoot()): StackPlan {
  const config = parseStackConfig(lookup);
  const postgresScripts = POSTGRES_DATABASES.map((db) => loadDatabaseScripts(root, db.name, `init/postgres/${db.folder}`));
  const replicaEntrypoint = fs.readFileSync(path.join(root, "init/scripts/postgres-replica-entrypoint.sh"), "utf8");
  return { config, postgresScripts, replicaEntrypoint };
}

export interface TradingDbStackArgs {
  plan: StackPlan;
}

export class TradingDbStack extends pulumi.ComponentResource {
  readonly postgres: PostgresCluster;

  constructor(name: string, args: TradingDbStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:stack:TradingDbStack", name, {}, opts);
    const { config } = args.plan;
    const labels = [
      { label: "com.trading-db-stack.project", value: "trading-db-stack" },
      { label: "com.trading-db-stack.stack", value: pulumi.getStack() },
    ];
    const secrets = new StackSecrets("secrets", {}, { parent: this });
    const networks = new DockerNetworks("networks", { namePrefix: config.namePrefix, labels }, { parent: this });
    this.postgres = new PostgresCluster(
      "postgres",
      {
        config,
        secrets: secrets.postgres,
        networks: { db: networks.db, app: networks.app },
        scripts: args.plan.postgresScripts,
        replicaEntrypoint: args.plan.replicaEntrypoint,
        labels,
      },
      { parent: this },
    );
    this.registerOutputs({ postgres: this.postgres.primary });
  }
}
