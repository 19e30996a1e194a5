import { describeStackGraph } from "./stack-graph";

// prod runs on Kubernetes (test/unit/kubernetes-*.test.ts); on its own Docker host it is the same stack as dev, larger.
describeStackGraph({ stack: "prod", overrides: { platform: "docker" }, replicas: 2, retainData: true, memoryMb: 4096, mongoMembers: 3, mongoElectionTimeoutMs: 10000, redisMaxMemoryMb: 2048, influxRetentionDays: 90, adminTools: false });
