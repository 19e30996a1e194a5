import { describeStackGraph } from "./stack-graph";

describeStackGraph({ stack: "dev", replicas: 1, retainData: false, memoryMb: 1024, mongoMembers: 3, mongoElectionTimeoutMs: 1000, redisMaxMemoryMb: 256, influxRetentionDays: 7, adminTools: true });
