// The dev stack on the test's Docker daemon, as the engine suite and the benchmark run it: the real
// Pulumi.dev.yaml with its own name prefix and host ports (it never meets a developer's stack on
// the same machine), and the stand-in images built first.
import Docker from "dockerode";
import { ensureStandIn, STAND_INS } from "./images";

export const DEV_STACK = "dev";

/** Fails a container that is not healthy within a minute and a half, with its log, well inside the test's time. */
const WAIT = { waitTimeoutSeconds: "90" };
const PORTS = { postgresPort: "25432", postgresReplicaFirstPort: "25433", redisPort: "26379", mongoFirstPort: "27117", influxdbPort: "28086", pgadminPort: "25050", mongoExpressPort: "28081" };

export async function dockerReady(docker: Docker): Promise<void> {
  await docker.ping().catch((error: Error) => {
    throw new Error(`no Docker daemon answers (${error.message}): install docker.io (apt-get install docker.io) and start dockerd as root; the README's test command (tools/test.sh) does both`);
  });
}

/** Config overrides for a dev stack named by `prefix`, with the stand-in images (built when missing). */
export async function devStackOverrides(docker: Docker, prefix: string): Promise<Record<string, string>> {
  await dockerReady(docker);
  return {
    ...PORTS,
    ...WAIT,
    namePrefix: prefix,
    postgresImage: await ensureStandIn(docker, STAND_INS.postgres),
    redisImage: await ensureStandIn(docker, STAND_INS.redis),
    mongoImage: await ensureStandIn(docker, STAND_INS.mongo),
    influxdbImage: await ensureStandIn(docker, STAND_INS.influxdb),
    pgadminImage: await ensureStandIn(docker, STAND_INS.pgadmin),
    mongoExpressImage: await ensureStandIn(docker, STAND_INS.mongoExpress),
  };
}

/** Containers, volumes and networks named by `prefix`, left by an earlier, interrupted run. */
export async function removeLeftovers(docker: Docker, prefix: string): Promise<void> {
  for (const c of await docker.listContainers({ all: true })) if (c.Names.some((n) => n.startsWith(`/${prefix}-`))) await docker.getContainer(c.Id).remove({ force: true });
  for (const v of (await docker.listVolumes()).Volumes ?? []) if (v.Name.startsWith(`${prefix}_`)) await docker.getVolume(v.Name).remove();
  for (const n of await docker.listNetworks()) if (n.Name.startsWith(`${prefix}-`)) await docker.getNetwork(n.Id).remove();
}
