// trading-db-stack: reads the stack's config, builds the stack, exports what services need.
// The exports are the contract in components/outputs.ts, which also shapes them.
import * as pulumi from "@pulumi/pulumi";
import type { ConfigKeyName, SecretKeyName } from "./components/config";
import { stackOutputs } from "./components/outputs";
import { loadStackPlan, TradingDbStack } from "./components/stack";

const config = new pulumi.Config();
// Secret keys are read as text here and become Pulumi secrets in components/secrets.ts.
// Every key set, of every namespace: a key of this project's that the stack does not read is refused.
const plan = loadStackPlan((key: ConfigKeyName | SecretKeyName) => config.get(key), Object.keys(pulumi.runtime.allConfig()));
const stack = new TradingDbStack("trading", { plan });
const outputs = stackOutputs(stack, plan.config);

export const postgresPrimary = outputs.postgresPrimary;
export const postgresReplicas = outputs.postgresReplicas;
export const postgresDatabases = outputs.postgresDatabases;
export const postgresUris = outputs.postgresUris;
export const mongoReplicaSet = outputs.mongoReplicaSet;
export const mongoUris = outputs.mongoUris;
export const redisServer = outputs.redisServer;
export const redisUrls = outputs.redisUrls;
export const influxdb = outputs.influxdb;
export const influxdbTokens = outputs.influxdbTokens;
export const adminTools = outputs.adminTools;
export const adminToolLogins = outputs.adminToolLogins;
export const adminConnections = outputs.adminConnections;
export const serviceEnv = outputs.serviceEnv;
export const kubernetes = outputs.kubernetes;
export const tls = outputs.tls;
