import { describeStackGraph } from "./stack-graph";

// prod runs on Kubernetes (test/unit/kubernetes-*.test.ts); on its own Docker host it is the same stack as dev, larger.
// The clear shapes (tls off); prod's default TLS on Docker is the dev stack's with tls (stack-tls.test.ts).
describeStackGraph({ stack: "prod", overrides: { platform: "docker", tls: "false" }, replicas: 2, retainData: true, memoryMb: 4096, mongoMembers: 3, mongoElectionTimeoutMs: 10000, redisMaxMemoryMb: 2048, influxRetentionDays: 90, adminTools: false });
