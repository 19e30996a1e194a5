// The Docker realisation of a ServerSpec: one container with its volumes, on both networks,
// health-checked and waited for. What every container shares lives here too: the healthcheck
// shape `wait: true` relies on, how files are uploaded, and the label that makes settings the
// Docker provider ignores on update replace the container instead.
import * as crypto from "crypto";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { LOOPBACK } from "../config";
import { formerlyNamed } from "../names";
import type { ServerSpec } from "../server-spec";

export interface Healthcheck {
  tests: string[];
  interval: string;
  timeout: string;
  retries: number;
  startPeriod: string;
  startInterval: string;
}

/** Where a probe records that the server was ready since PID 1 started (kept per container start). */
const READY_MARKER = "/tmp/.trading-db-stack-ready";
/** A ready server is checked again after this long: one probe exec per ~10 s once up. */
const STEADY_SLEEP_SECONDS = 9;
/** How long one starting probe waits for readiness before it counts as a failure. */
const STARTING_WAIT_SECONDS = 20;

/**
 * A health probe that follows readiness within a second on any engine, without a probe exec every
 * second. Docker before API 1.44 ignores start_interval and first probes after `interval`, and each
 * probe exec costs ~0.1 s of CPU in the engine, so a 1 s interval would burn a tenth of a core per
 * container. Instead the interval is 1 s but a probe is long-lived: while the server is starting
 * (no marker for this PID 1) it polls `check` inside the container every 0.25 s and returns as soon
 * as the server is ready; once ready it sleeps 9 s, then checks once. A failed check clears the
 * marker, so the next probe watches closely again. `check` is a shell command.
 */
export function healthcheck(check: string, options: { checkTimeoutSeconds?: number } = {}): Healthcheck {
  const checkTimeout = options.checkTimeoutSeconds ?? 5;
  const probe = [
    `boot="$(cut -d' ' -f22 /proc/1/stat)"`,
    `if [ "$(cat ${READY_MARKER} 2>/dev/null)" = "$boot" ]; then sleep ${STEADY_SLEEP_SECONDS}; ${check} && exit 0; rm -f ${READY_MARKER}; exit 1; fi`,
    `end=$(($(date +%s) + ${STARTING_WAIT_SECONDS}))`,
    `until ${check}; do [ "$(date +%s)" -lt "$end" ] || exit 1; sleep 0.25; done`,
    `echo "$boot" > ${READY_MARKER}`,
  ].join("; ");
  return {
    tests: ["CMD-SHELL", probe],
    interval: "1s",
    timeout: `${Math.max(STEADY_SLEEP_SECONDS, STARTING_WAIT_SECONDS) + checkTimeout + 5}s`,
    retries: 3,
    // Failures while a large data folder recovers do not count; fixed, so no setting moves it.
    startPeriod: "300s",
    startInterval: "1s",
  };
}

/**
 * A script uploaded into a container, readable and executable by every user: the images drop from
 * root to their own user (postgres 999, pgAdmin 5050) and then run it again. The provider's
 * `executable: true` gives 0744 root-owned, which those users cannot execute.
 */
export function scriptUpload(file: string, content: string): { file: string; content: string; permissions: string } {
  return { file, content, permissions: "0755" };
}

/** Label holding a hash of the settings the Docker provider drops on update (the healthcheck). */
export const SPEC_HASH_LABEL = "com.trading-db-stack.spec-hash";

/**
 * The label's value. Labels force a new container, so a changed healthcheck replaces the container
 * (visible in `pulumi preview`) instead of being silently kept as it was
 * (kreuzwerker/terraform-provider-docker#988).
 */
export function specHash(ignoredOnUpdate: { healthcheck: Healthcheck }): string {
  const { healthcheck: h } = ignoredOnUpdate;
  const canonical = [h.tests, h.interval, h.timeout, h.retries, h.startPeriod, h.startInterval];
  return crypto.createHash("sha256").update(JSON.stringify(canonical)).digest("hex").slice(0, 16);
}

export interface DockerContext {
  networks: { db: docker.Network; app: docker.Network };
  labels: docker.types.input.ContainerLabel[];
  waitTimeoutSeconds: number;
  retainData: boolean;
}

export interface ServiceContainerOptions {
  networks: { db: docker.Network; app: docker.Network };
  labels: docker.types.input.ContainerLabel[];
  /** The container's DNS name on both networks (postgres, mongodb-2, redis...). */
  alias: string;
  /** A name on the internal network only (ServerSpec.internalAlias). */
  internalAlias?: string;
  /** Value of the com.trading-db-stack.role label. */
  role: string;
  waitTimeoutSeconds: number;
  /** How long a stop may take before SIGKILL: without it the provider stops with timeout 0. */
  stopGraceSeconds: number;
  healthcheck: Healthcheck;
}

/**
 * Options every service container takes. Fixed names and host ports: the old container must go
 * before its replacement starts. (A changed `waitTimeout` is an in-place update the provider keeps
 * in its state only: it reads the value when it creates a container, kreuzwerker/
 * terraform-provider-docker#467, and never restarts one for it.)
 */
export const SERVICE_CONTAINER_OPTIONS: pulumi.CustomResourceOptions = { deleteBeforeReplace: true };

/**
 * What every container of the stack shares: restarted unless stopped, health-checked and waited for
 * until healthy at create, labelled (with the hash of what the provider ignores on update), and on
 * both networks under its service name. An internal network has no gateway, so the app network
 * carries the published ports.
 */
export function serviceContainerArgs(o: ServiceContainerOptions) {
  return {
    restart: "unless-stopped",
    destroyGraceSeconds: o.stopGraceSeconds,
    wait: true,
    waitTimeout: o.waitTimeoutSeconds,
    healthcheck: o.healthcheck,
    labels: [...o.labels, { label: "com.trading-db-stack.role", value: o.role }, { label: SPEC_HASH_LABEL, value: specHash({ healthcheck: o.healthcheck }) }],
    networksAdvanced: [
      { name: o.networks.app.name, aliases: [o.alias] },
      { name: o.networks.db.name, aliases: [o.alias, ...(o.internalAlias ? [o.internalAlias] : [])] },
    ],
  };
}

export interface DockerServerArgs {
  spec: ServerSpec;
  /** The image, pulled once per component (a primary and its replicas share it). */
  image: pulumi.Input<string>;
  /** Pulumi name of the container resource, and of each volume resource per VolumeSpec key. */
  resourceNames: { container: string; volumes: Record<string, string> };
  /** Their names in earlier releases, where they differ (the admin tools'). */
  formerResourceNames?: { container: string; volumes: Record<string, string> };
  /** Docker's names: the container's, and each volume's per VolumeSpec key. */
  containerName: string;
  volumeNames: Record<string, string>;
  /** Published on 127.0.0.1. */
  hostPort: number;
  /** Values of the spec's secretFiles, by `secret`. */
  secrets: Record<string, pulumi.Input<string>>;
  context: DockerContext;
}

/**
 * How every server container runs: as the image's own user from the start (the images' root setup,
 * chown and gosu, never runs: the volumes Docker makes from the image are already that user's),
 * with every capability dropped but the file capabilities its binaries carry, and no-new-privileges
 * so no setuid or file-capability binary raises it again. /proc/1/status in each container shows
 * Uid non-zero, CapEff 0 and NoNewPrivs 1 (test/engine/dev-stack.test.ts).
 */
export function hardening(spec: ServerSpec) {
  const { uid, gid } = spec.user;
  return {
    user: `${uid}:${gid}`,
    capabilities: { drops: ["ALL"], ...(spec.fileCapabilities ? { adds: spec.fileCapabilities } : {}) },
    securityOpts: ["no-new-privileges:true"],
    // Empty at every start, in memory, the user's own (the Mongo keyfile copy).
    ...(spec.scratchPaths ? { tmpfs: Object.fromEntries(spec.scratchPaths.map((p) => [p, `uid=${uid},gid=${gid},mode=0700`])) } : {}),
  };
}

/** A secret file: the server's user reads it, nobody else in the container (its root included, which has no DAC_OVERRIDE). */
export function secretUpload(spec: ServerSpec, file: string, content: pulumi.Input<string>) {
  return { file, content, owner: String(spec.user.uid), group: String(spec.user.gid), permissions: "0400" };
}

/** One server: its volumes and its container, published on 127.0.0.1 only. */
export function dockerServer(args: DockerServerArgs, opts: pulumi.CustomResourceOptions): docker.Container {
  const { spec, context } = args;
  const names = args.resourceNames;
  const former = args.formerResourceNames ?? names;
  const volumes = spec.volumes.map((v) => {
    const volume = new docker.Volume(
      names.volumes[v.key],
      { name: args.volumeNames[v.key], labels: context.labels },
      { parent: opts.parent, retainOnDelete: context.retainData, ...formerlyNamed(former.volumes[v.key] ?? names.volumes[v.key], names.volumes[v.key]) },
    );
    return { volumeName: volume.name, containerPath: v.path };
  });
  const secret = (name: string) => {
    const value = args.secrets[name];
    if (value === undefined) throw new Error(`${spec.service}: no value for secret file ${name}`);
    return pulumi.secret(value);
  };
  const serving = spec.serving ?? spec.ready;
  return new docker.Container(
    names.container,
    {
      ...serviceContainerArgs({
        networks: context.networks,
        labels: context.labels,
        alias: spec.service,
        internalAlias: spec.internalAlias,
        role: spec.role,
        waitTimeoutSeconds: context.waitTimeoutSeconds,
        stopGraceSeconds: spec.stopGraceSeconds,
        // Healthy once serving its share: a replaced Mongo member counts only when it is a
        // secondary again, so the next in line (components/mongo.ts) waits until it has caught up.
        healthcheck: healthcheck(serving.command, { checkTimeoutSeconds: serving.timeoutSeconds }),
      }),
      name: args.containerName,
      image: args.image,
      ...hardening(spec),
      ...(spec.dockerLimits.memory ? { memory: spec.resources.memoryMb } : {}),
      ...(spec.dockerLimits.cpus ? { cpus: spec.resources.cpus } : {}),
      ...(spec.shmSizeMb !== undefined ? { shmSize: spec.shmSizeMb } : {}),
      ...(spec.entrypoint ? { entrypoints: spec.entrypoint } : {}),
      ...(spec.command ? { command: spec.command } : {}),
      ...(Object.keys(spec.env).length > 0 ? { envs: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`) } : {}),
      ports: [{ internal: spec.port.number, external: args.hostPort, ip: LOOPBACK }],
      ...(volumes.length > 0 ? { volumes } : {}),
      uploads: [
        ...spec.files.map((f) => (f.executable ? scriptUpload(f.path, f.content) : { file: f.path, content: f.content })),
        ...spec.secretFiles.map((f) => secretUpload(spec, f.path, secret(f.credential))),
      ],
    },
    { ...SERVICE_CONTAINER_OPTIONS, ...opts, ...formerlyNamed(former.container, names.container) },
  );
}
