// Typed, validated stack configuration.
//
// Every key is declared once in CONFIG_KEYS (type, default, description); Pulumi.yaml carries the
// same schema for the CLI and a unit test keeps the two equal. parseStackConfig is pure: it takes a
// lookup function so tests can feed it plain objects, and it reports every bad key at once, before
// any resource is created.

export const PROJECT = "trading-db-stack";

/** Host ports are published on this address only: the databases are never open to the network. */
export const LOOPBACK = "127.0.0.1";

type KeyType = "string" | "integer" | "boolean";

export interface ConfigKey {
  type: KeyType;
  default: string | number | boolean;
  description: string;
}

export const CONFIG_KEYS = {
  platform: {
    type: "string",
    default: "docker",
    description: "Where the stack runs. Allowed: docker (the Kubernetes target is not built yet).",
  },
  namePrefix: {
    type: "string",
    default: "trading",
    description:
      "Prefix of container, network and volume names (trading -> trading-postgres, trading_postgres_data). Lowercase letters and digits.",
  },
  retainData: {
    type: "boolean",
    default: false,
    description: "Keep the data volumes when the stack is destroyed (retainOnDelete). Turn on for any data you care about.",
  },
  adminTools: {
    type: "boolean",
    default: false,
    description: "Deploy pgAdmin and mongo-express (published on 127.0.0.1 only).",
  },
  waitTimeoutSeconds: {
    type: "integer",
    default: 180,
    description: "How long `pulumi up` waits for a container to report healthy before failing (10-3600).",
  },
  postgresImage: {
    type: "string",
    default: "postgres:18.1",
    description: "PostgreSQL image with a pinned tag that starts with the major version (15 or newer), e.g. postgres:18.1. `latest` is refused.",
  },
  postgresPort: {
    type: "integer",
    default: 5432,
    description: "Host port of the PostgreSQL primary, published on 127.0.0.1 (1024-65535).",
  },
  postgresReplicas: {
    type: "integer",
    default: 1,
    description: "Number of streaming read replicas (0-5).",
  },
  postgresReplicaFirstPort: {
    type: "integer",
    default: 5433,
    description: "Host port of replica 1; replica N is published on this port + N - 1, on 127.0.0.1.",
  },
  postgresMemoryMb: {
    type: "integer",
    default: 1024,
    description: "Memory limit of each PostgreSQL container in MiB (256-262144); shared_buffers is a quarter of it.",
  },
  postgresCpus: {
    type: "string",
    default: "1",
    description: "CPU limit of each PostgreSQL container, a decimal number of CPUs (e.g. 0.5, 2).",
  },
  postgresMaxConnections: {
    type: "integer",
    default: 100,
    description: "max_connections of the primary and replicas (20-5000).",
  },
  postgresMaxSlotWalKeepMb: {
    type: "integer",
    default: 1024,
    description: "max_slot_wal_keep_size in MiB: the most WAL a lagging or lost replica may hold back on the primary (64-10485760).",
  },
} as const satisfies Record<string, ConfigKey>;

export type ConfigKeyName = keyof typeof CONFIG_KEYS;

export interface PostgresConfig {
  image: string;
  /** Major version read from the image tag; decides the data directory layout. */
  majorVersion: number;
  port: number;
  replicas: number;
  replicaFirstPort: number;
  memoryMb: number;
  cpus: string;
  maxConnections: number;
  maxSlotWalKeepMb: number;
}

export interface StackConfig {
  platform: "docker";
  namePrefix: string;
  retainData: boolean;
  adminTools: boolean;
  waitTimeoutSeconds: number;
  postgres: PostgresConfig;
}

/** Thrown for bad configuration; lists every problem, each naming its key. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration for stack of ${PROJECT}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Looks up a raw config value (as the Pulumi CLI hands it over: a string) or undefined when unset. */
export type ConfigLookup = (key: ConfigKeyName) => string | undefined;

export function parseStackConfig(lookup: ConfigLookup): StackConfig {
  const problems: string[] = [];
  const reader = new KeyReader(lookup, problems);

  const platform = reader.oneOf("platform", ["docker"]);
  const namePrefix = reader.matching("namePrefix", /^[a-z][a-z0-9]{0,23}$/, "1-24 lowercase letters and digits, starting with a letter");
  const retainData = reader.boolean("retainData");
  const adminTools = reader.boolean("adminTools");
  const waitTimeoutSeconds = reader.integer("waitTimeoutSeconds", 10, 3600);

  const image = reader.pinnedImage("postgresImage");
  const majorVersion = postgresMajorVersion(image);
  if (image !== undefined && (majorVersion === undefined || majorVersion < 15)) {
    problems.push(
      `${key("postgresImage")}: the tag must start with the PostgreSQL major version, 15 or newer (e.g. postgres:18.1); got "${image}"`,
    );
  }
  const postgres: PostgresConfig = {
    image: image ?? "",
    majorVersion: majorVersion ?? 0,
    port: reader.integer("postgresPort", 1024, 65535),
    replicas: reader.integer("postgresReplicas", 0, 5),
    replicaFirstPort: reader.integer("postgresReplicaFirstPort", 1024, 65535),
    memoryMb: reader.integer("postgresMemoryMb", 256, 262144),
    cpus: reader.cpus("postgresCpus"),
    maxConnections: reader.integer("postgresMaxConnections", 20, 5000),
    maxSlotWalKeepMb: reader.integer("postgresMaxSlotWalKeepMb", 64, 10485760),
  };

  if (problems.length === 0) problems.push(...portProblems(hostPorts(postgres)));
  if (problems.length > 0) throw new ConfigError(problems);

  return { platform: platform as "docker", namePrefix, retainData, adminTools, waitTimeoutSeconds, postgres };
}

/** A host port and the setting it comes from, for error messages. */
export interface HostPort {
  port: number;
  setting: string;
}

/** Every host port the stack publishes. */
export function hostPorts(pg: PostgresConfig): HostPort[] {
  const ports: HostPort[] = [{ port: pg.port, setting: key("postgresPort") }];
  for (let n = 1; n <= pg.replicas; n++) {
    ports.push({ port: pg.replicaFirstPort + n - 1, setting: `${key("postgresReplicaFirstPort")} (replica ${n})` });
  }
  return ports;
}

function portProblems(ports: HostPort[]): string[] {
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const { port, setting } of ports) {
    if (port > 65535) problems.push(`${setting}: port ${port} is above 65535; lower the setting or the replica count`);
    const other = seen.get(port);
    if (other) problems.push(`${setting}: host port ${port} is already used by ${other}; give each service its own port`);
    else seen.set(port, setting);
  }
  return problems;
}

/** "postgres:18.1" -> 18; undefined when the tag does not start with a number. */
export function postgresMajorVersion(image: string | undefined): number | undefined {
  const tag = image === undefined ? undefined : imageTag(image);
  const match = tag?.match(/^(\d+)/);
  return match ? Number(match[1]) : undefined;
}

function imageTag(image: string): string | undefined {
  const withoutDigest = image.split("@")[0];
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const colon = lastSegment.indexOf(":");
  return colon === -1 ? undefined : lastSegment.slice(colon + 1);
}

function key(name: ConfigKeyName): string {
  return `${PROJECT}:${name}`;
}

class KeyReader {
  constructor(
    private readonly lookup: ConfigLookup,
    private readonly problems: string[],
  ) {}

  private raw(name: ConfigKeyName): string {
    const value = this.lookup(name);
    return value === undefined ? String(CONFIG_KEYS[name].default) : value.trim();
  }

  private fail<T>(name: ConfigKeyName, allowed: string, got: string, fallback: T): T {
    this.problems.push(`${key(name)}: must be ${allowed}; got "${got}"`);
    return fallback;
  }

  oneOf(name: ConfigKeyName, allowed: string[]): string {
    const value = this.raw(name);
    return allowed.includes(value) ? value : this.fail(name, `one of: ${allowed.join(", ")}`, value, allowed[0]);
  }

  matching(name: ConfigKeyName, pattern: RegExp, allowed: string): string {
    const value = this.raw(name);
    return pattern.test(value) ? value : this.fail(name, allowed, value, value);
  }

  boolean(name: ConfigKeyName): boolean {
    const value = this.raw(name);
    if (value === "true") return true;
    if (value === "false") return false;
    return this.fail(name, "true or false", value, false);
  }

  integer(name: ConfigKeyName, min: number, max: number): number {
    const value = this.raw(name);
    const number = /^-?\d+$/.test(value) ? Number(value) : NaN;
    if (Number.isSafeInteger(number) && number >= min && number <= max) return number;
    return this.fail(name, `a whole number from ${min} to ${max}`, value, min);
  }

  cpus(name: ConfigKeyName): string {
    const value = this.raw(name);
    const number = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
    if (number > 0 && number <= 64) return value;
    return this.fail(name, "a decimal number of CPUs above 0 and at most 64 (e.g. 0.5, 2)", value, "1");
  }

  pinnedImage(name: ConfigKeyName): string | undefined {
    const value = this.raw(name);
    const reference = /^[a-z0-9]+(?:[._\/:-][a-z0-9]+)*(?:@sha256:[a-f0-9]{64})?$/i;
    const tag = imageTag(value);
    if (!reference.test(value) || tag === undefined || tag === "" || tag === "latest") {
      return this.fail(name, "an image reference with a pinned tag (e.g. postgres:18.1), not latest", value, undefined);
    }
    return value;
  }
}
