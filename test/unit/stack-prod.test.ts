import { describeStackGraph } from "./stack-graph";

describeStackGraph({ stack: "prod", replicas: 2, retainData: true, memoryMb: 4096, mongoMembers: 3, mongoElectionTimeoutMs: 10000, redisMaxMemoryMb: 2048, influxRetentionDays: 90, adminTools: false });
