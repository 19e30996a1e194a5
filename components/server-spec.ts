// What runs, independent of where: one database server (or a set of identical members) as plain
// data, built by the pure *-spec.ts functions from the config. components/docker/ and
// components/kubernetes/ turn a spec into resources; each engine's choices stay in its folder.

export interface Endpoint {
  host: string;
  port: number;
}

/** A file mounted into the server: server config, or a script (executable by every user). */
export interface FileSpec {
  path: string;
  content: string;
  executable?: boolean;
}

/** A credential mounted as a file; `credential` names its value in the map the component hands the engine. */
export interface SecretFileSpec {
  path: string;
  credential: string;
}

/** Persistent data: `key` names it per engine (Docker volume, Kubernetes volumeClaimTemplate). */
export interface VolumeSpec {
  key: string;
  path: string;
  /** Kubernetes: a fixed size in GiB for a small volume (MongoDB's configdb); else the database's storage setting. */
  sizeGb?: number;
}

/** A shell command run inside the server's container: exit 0 when the server is ready for clients. */
export interface ReadyCheck {
  command: string;
  /** How long one run of the command may take. */
  timeoutSeconds: number;
}

/** How long a start may take before the server counts as hung (Kubernetes' startup probe; liveness only counts after it). */
export const DEFAULT_START_SECONDS = 600;

export interface ServerSpec {
  /** The server's name on the Docker networks (postgres, mongodb-2) and the base of its Kubernetes names. */
  service: string;
  /** Docker: a second name on the internal network only, for peers that must arrive from there (PostgreSQL's replicas). */
  internalAlias?: string;
  /** What it is in the stack (primary, replica-1, mongodb-member-1, redis...): a label on both engines. */
  role: string;
  image: string;
  /** Replaces the image's entrypoint when set (our wrappers run first, then hand over to it). */
  entrypoint?: string[];
  command?: string[];
  /** Plain settings only: credentials are files (secretFiles), never values here. */
  env: Record<string, string>;
  files: FileSpec[];
  secretFiles: SecretFileSpec[];
  port: { name: string; number: number };
  /** Up: Docker's healthcheck, Kubernetes' startup probe. */
  ready: ReadyCheck;
  /** Able to serve its share (Kubernetes' readiness, Docker's healthcheck): a replica-set member that is syncing is up but not serving. Default: `ready`. */
  serving?: ReadyCheck;
  /**
   * Alive (Kubernetes' liveness): the server answers a request, whatever it answers. A wedged
   * server still completes TCP handshakes (the kernel's backlog), so this asks the server itself.
   * It must pass while a server recovers or loads its data after the start. Default: `ready`.
   */
  alive?: ReadyCheck;
  /** The longest a start may take (crash recovery, a base backup); DEFAULT_START_SECONDS when absent. */
  startSeconds?: number;
  /**
   * File capabilities the image's own binaries carry (pgAdmin's python: NET_BIND_SERVICE). Linux
   * refuses to execute such a binary when they are missing from the bounding set, so the container
   * keeps them there; under no-new-privileges the process never gains them, so the server must
   * not need them (pgAdmin listens on a port above 1024).
   */
  fileCapabilities?: string[];
  volumes: VolumeSpec[];
  /**
   * Writable folders outside the volumes, empty at every start and owned by `user` (Docker: tmpfs;
   * Kubernetes: emptyDir), e.g. where the Mongo wrapper puts the 0400 keyfile, or /tmp. With the
   * volumes they are every path the image writes: Kubernetes makes the rest of its root read-only.
   */
  scratchPaths?: string[];
  /**
   * Why the image must write into its root filesystem beyond the volumes and scratchPaths, when it
   * must; Kubernetes then leaves the root writable. (Docker's roots stay writable: the provider
   * uploads the files into a container before it starts, which Docker refuses on a read-only root.)
   */
  writesToRoot?: string;
  /**
   * The image's own unprivileged user, which both engines run the container as from the start: no
   * process of the stack's containers is ever root, and the images' root-only setup (chown, gosu)
   * never runs. Secret files are owned by it, mode 0400.
   */
  user: { uid: number; gid: number };
  /** Memory and CPU for the container (Kubernetes requests and limits). */
  resources: { memoryMb: number; cpus: string };
  /**
   * Which of `resources` Docker applies: only the limits it has always applied, so no existing
   * container is replaced by the Kubernetes-only settings.
   */
  dockerLimits: { memory: boolean; cpus: boolean };
  /** How long a stop may take before SIGKILL: a database flushes and stops without crash recovery. */
  stopGraceSeconds: number;
  /** /dev/shm size in MiB when the default (64 MiB) is too small. */
  shmSizeMb?: number;
}

/** Quotes words for a POSIX shell command line. */
export function shellCommand(words: string[]): string {
  return words.map((w) => (/^[A-Za-z0-9_.:\/=@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}
