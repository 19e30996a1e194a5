import { describeStackGraph } from "./stack-graph";

describeStackGraph({ stack: "dev", replicas: 1, retainData: false, memoryMb: 1024 });
