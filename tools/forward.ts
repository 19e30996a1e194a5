// npm run forward -- [--stack <name> | --from-json <file>]
// Kubernetes: holds a port-forward to every database pod of the stack on the local ports its
// outputs name (postgresPort, postgresReplicaFirstPort + N - 1, mongoFirstPort + N - 1, redisPort,
// influxdbPort on 127.0.0.1), until Ctrl-C. While it runs, `serviceEnv.host` (npm run env) and
// `adminConnections` work from this machine as they do on Docker. Uses the hooks' access layer.
// mongoFirstPort reaches whichever member is primary (tools/mongo-primary-router.ts): the host
// URIs name it, so their writes follow a failover.
import { parseArgs } from "util";
import type { StackOutputs } from "../components/outputs";
import { reachStack } from "./reach";
import { readStackOutputs, ToolError } from "./stack-outputs";

export async function main(argv: string[], stop: Promise<void> = signalled()): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { "from-json": { type: "string" }, stack: { type: "string" } } });
  // tls is read when there (a stack made before it has none).
  const { adminConnections, tls } = readStackOutputs({ fromJson: values["from-json"], stack: values.stack }, ["adminConnections"]) as Pick<StackOutputs, "adminConnections"> & Partial<Pick<StackOutputs, "tls">>;
  if (!adminConnections.access) throw new ToolError("this stack runs on Docker: its ports are already published on 127.0.0.1, nothing to forward");
  const reached = await reachStack(adminConnections, { localPorts: true, followMongoPrimary: true, ...(tls ? { tlsCa: tls.caCertificate } : {}) });
  try {
    for (const [uri, label] of reached.labels) process.stdout.write(`forwarding ${new URL(uri).host} -> ${label}\n`);
    process.stdout.write("ready; Ctrl-C stops\n");
    await stop;
  } finally {
    await reached.close();
  }
  return 0;
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`npm run forward: ${(error as Error).message}\n`);
      process.exit(error instanceof ToolError ? 2 : 1);
    },
  );
}
