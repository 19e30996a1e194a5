import { describeStackGraph } from "./stack-graph";

describeStackGraph({ stack: "prod", replicas: 2, retainData: true, memoryMb: 4096 });
