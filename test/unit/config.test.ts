import * as fs from "fs";
import * as path from "path";
import { describe, expect, test } from "vitest";
import YAML from "yaml";
import { CONFIG_KEYS, ConfigError, editDistance, hostPorts, parseStackConfig, postgresMaxConnectionsFor, SECRET_CONFIG_KEYS, type ConfigKeyName, type SecretKeyName } from "../../components/config";
import { ROOT, stackConfig } from "../support/pulumi";

const parse = (values: Partial<Record<ConfigKeyName | SecretKeyName, string>>, keysSet: string[] = []) => parseStackConfig((key) => values[key], keysSet);

function problems(values: Partial<Record<ConfigKeyName | SecretKeyName, string>>, keysSet: string[] = []): string[] {
  try {
    parse(values, keysSet);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(values)} to be refused`);
}

function fromStack(stack: string) {
  const config = stackConfig(stack);
  return parseStackConfig((key) => config[`trading-db-stack:${key}`], Object.keys(config));
}

describe("Pulumi.yaml config schema", () => {
  const project = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));

  test("declares exactly the keys the code reads, each with the code's type, default and description", () => {
    expect(project.name).toBe("trading-db-stack");
    expect(Object.keys(project.config).sort()).toEqual([...Object.keys(CONFIG_KEYS), ...Object.keys(SECRET_CONFIG_KEYS)].sort());
    for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
      expect(project.config[key], key).toEqual({ type: spec.type, default: spec.default, description: spec.description });
    }
    // The user's own credentials: secret, no default (generated when unset).
    for (const [key, description] of Object.entries(SECRET_CONFIG_KEYS)) {
      expect(project.config[key], key).toEqual({ type: "string", secret: true, description });
    }
  });

  test("the README's Configuration section names every key, and no key the code does not read", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1));
    const keys = [...Object.keys(CONFIG_KEYS), ...Object.keys(SECRET_CONFIG_KEYS)];
    for (const key of keys) expect(section, key).toContain(`\`${key}\``);
    const named = [...section.matchAll(/`([a-z][A-Za-z]+)`/g)].map((m) => m[1]).filter((k) => /[A-Z]/.test(k));
    for (const key of named) expect(keys, `README names ${key}`).toContain(key);
  });

  test("a credential the user set must be 16-128 printable ASCII characters, no space or '; the error says what it holds, never the value", () => {
    const found = problems({
      postgresSuperuserPassword: "short pw",
      redisAppPassword: "x".repeat(129),
      mongoAppPassword: "it's-my-own-password",
      postgresReadonlyPassword: "pässwort-pässwort-1",
    });
    const rule = "must be 16-128 printable ASCII characters without spaces or single quotes (')";
    expect(found).toEqual([
      `trading-db-stack:postgresSuperuserPassword: ${rule}; got 8 characters, holding whitespace (value not shown)`,
      `trading-db-stack:postgresReadonlyPassword: ${rule}; got 19 characters, holding a non-ASCII character (value not shown)`,
      `trading-db-stack:mongoAppPassword: ${rule}; got 20 characters, holding a single quote (value not shown)`,
      `trading-db-stack:redisAppPassword: ${rule}; got 129 characters (value not shown)`,
    ]);
    expect(found.join("\n")).not.toMatch(/short pw|it's|pässwort/);
    expect(parse({ mongoRootPassword: 'My:own/pa$$word-1234`"\\#' }).userSecrets).toEqual({ mongoRootPassword: 'My:own/pa$$word-1234`"\\#' });
    expect(parse({}).userSecrets).toEqual({});
  });

  test.each(["dev", "prod"])("Pulumi.%s.yaml sets only known keys of this project", (stack) => {
    const values = YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).config;
    for (const key of Object.keys(values)) {
      expect(key.startsWith("trading-db-stack:"), key).toBe(true);
      expect([...Object.keys(CONFIG_KEYS), ...Object.keys(SECRET_CONFIG_KEYS)], key).toContain(key.slice("trading-db-stack:".length));
    }
  });
});

describe("stack settings", () => {
  test("dev: one replica, small containers, admin tools on, data not retained", () => {
    const dev = fromStack("dev");
    expect(dev).toMatchObject({ platform: "docker", namePrefix: "trading", retainData: false });
    expect(dev.adminTools).toEqual({ access: "read-only", pgadminImage: "dpage/pgadmin4:9.17", pgadminPort: 5050, mongoExpressImage: "mongo-express:1.0.2-20-alpine3.19", mongoExpressPort: 8081 });
    expect(dev.postgres).toMatchObject({ image: "postgres:18.7", majorVersion: 18, port: 5432, replicas: 1, replicaFirstPort: 5433, memoryMb: 1024 });
  });

  test("prod: two replicas, larger containers, admin tools off, data retained on destroy", () => {
    const prod = fromStack("prod");
    expect(prod).toMatchObject({ platform: "kubernetes", retainData: true, adminTools: undefined });
    expect(prod.kubernetes).toMatchObject({
      namespace: "trading-db",
      createNamespace: true,
      clientLabel: { key: "trading-db-stack/client", value: "true" },
      consumerNamespaces: { "advanced-trading-platform": "trading-platform", "trading-simulation": "trading-simulation" },
      createConsumerNamespaces: true,
      apiServerCidrs: undefined,
    });
    expect(fromStack("dev").kubernetes).toBeUndefined();
    expect(prod.postgres).toMatchObject({ replicas: 2, memoryMb: 4096, cpus: "2" });
    expect(prod.postgres.memoryMb).toBeGreaterThan(fromStack("dev").postgres.memoryMb);
  });

  test("every unset key takes its default", () => {
    const config = parse({});
    expect(config.postgres.replicas).toBe(CONFIG_KEYS.postgresReplicas.default);
    expect(config.waitTimeoutSeconds).toBe(CONFIG_KEYS.waitTimeoutSeconds.default);
  });

  test("host ports: PostgreSQL primary and replicas, each MongoDB member, Redis, InfluxDB", () => {
    expect(hostPorts(parse({ postgresReplicas: "2", mongoMembers: "3" })).map((p) => p.port)).toEqual([5432, 5433, 5434, 27017, 27018, 27019, 6379, 8086]);
  });

  test("dev elects a MongoDB primary fast; prod keeps MongoDB's default election timeout and longer InfluxDB retention", () => {
    const dev = fromStack("dev");
    const prod = fromStack("prod");
    expect(dev.mongo).toMatchObject({ members: 3, firstPort: 27017, electionTimeoutMs: 1000 });
    expect(prod.mongo).toMatchObject({ members: 3, electionTimeoutMs: 10000 });
    expect(prod.influxdb.retentionDays).toBeGreaterThan(dev.influxdb.retentionDays);
    expect(prod.redis.maxMemoryMb).toBeGreaterThan(dev.redis.maxMemoryMb);
    for (const stack of [dev, prod]) expect(stack.influxdb.image).toMatch(/^influxdb:2\.7\./);
  });
});

describe("bad config is refused before any resource, naming the key and what is allowed", () => {
  test.each<[Partial<Record<ConfigKeyName, string>>, RegExp]>([
    [{ platform: "aws" }, /trading-db-stack:platform: must be one of: docker, kubernetes; got "aws"/],
    [{ platform: "kubernetes", kubernetesNamespace: "Trading_DB" }, /trading-db-stack:kubernetesNamespace: must be a DNS label.*got "Trading_DB"/],
    [{ platform: "kubernetes", kubernetesClientLabel: "client" }, /trading-db-stack:kubernetesClientLabel: must be a Kubernetes label key=value.*got "client"/],
    [{ platform: "kubernetes", kubernetesClientLabel: "a/b/c=x" }, /trading-db-stack:kubernetesClientLabel: must be a Kubernetes label key=value/],
    [{ platform: "kubernetes", kubernetesPlatformNamespace: "Platform" }, /trading-db-stack:kubernetesPlatformNamespace: must be a DNS label.*got "Platform"/],
    [{ platform: "kubernetes", kubernetesSimulationNamespace: "trading-db" }, /trading-db-stack:kubernetesSimulationNamespace: must not be the databases' namespace \(trading-db-stack:kubernetesNamespace = trading-db\): a pod of trading-simulation there could mount the stack's own Secrets/],
    [{ platform: "kubernetes", kubernetesNamespace: "apps", kubernetesPlatformNamespace: "apps" }, /trading-db-stack:kubernetesPlatformNamespace: must not be the databases' namespace \(trading-db-stack:kubernetesNamespace = apps\)/],
    [{ platform: "kubernetes", kubernetesCreateConsumerNamespaces: "yes" }, /trading-db-stack:kubernetesCreateConsumerNamespaces: must be true or false; got "yes"/],
    [{ platform: "kubernetes", kubernetesApiServerCidr: "10.0.0.1" }, /trading-db-stack:kubernetesApiServerCidr: must be one or more CIDRs, comma-separated: each an IPv4 or IPv6 address, \/ and a prefix length \(e\.g\. 10\.0\.0\.1\/32\); got "10\.0\.0\.1"/],
    [{ platform: "kubernetes", kubernetesApiServerCidr: "10.0.0.1/33" }, /trading-db-stack:kubernetesApiServerCidr: must be one or more CIDRs/],
    [{ platform: "kubernetes", kubernetesApiServerCidr: "api.example/32" }, /trading-db-stack:kubernetesApiServerCidr: must be one or more CIDRs/],
    [{ tls: "yes" }, /trading-db-stack:tls: must be true or false; got "yes"/],
    [{ tls: "true", tlsCaFile: "ca.crt" }, /trading-db-stack:tlsCaFile: must be an absolute path of letters, digits, \., _, - and \/ \(it goes into URIs unescaped\); got "ca\.crt"/],
    [{ tlsCaFile: "/etc/my ca.crt" }, /trading-db-stack:tlsCaFile: must be an absolute path/],
    [{ postgresStorageGb: "0" }, /trading-db-stack:postgresStorageGb: must be a whole number from 1 to 65536; got "0"/],
    [{ mongoCpus: "two" }, /trading-db-stack:mongoCpus: must be a decimal number of CPUs/],
    [{ postgresReplicas: "-1" }, /trading-db-stack:postgresReplicas: must be a whole number from 0 to 5; got "-1"/],
    [{ postgresReplicas: "1.5" }, /trading-db-stack:postgresReplicas: must be a whole number from 0 to 5; got "1.5"/],
    [{ postgresReplicas: "two" }, /trading-db-stack:postgresReplicas: must be a whole number from 0 to 5; got "two"/],
    [{ postgresReplicas: "6" }, /trading-db-stack:postgresReplicas: must be a whole number from 0 to 5; got "6"/],
    [{ postgresPort: "80" }, /trading-db-stack:postgresPort: must be a whole number from 1024 to 65535; got "80"/],
    [{ postgresPort: "70000" }, /trading-db-stack:postgresPort: must be a whole number from 1024 to 65535; got "70000"/],
    [{ postgresImage: "postgres" }, /trading-db-stack:postgresImage: must be an image reference with a pinned tag \(e\.g\. postgres:18\.7\), not latest; got "postgres"/],
    [{ postgresImage: "postgres:latest" }, /trading-db-stack:postgresImage: must be an image reference with a pinned tag/],
    [{ postgresImage: "postgres:14.12" }, /trading-db-stack:postgresImage: PostgreSQL 14\.12 is too old: .*; this stack serves PostgreSQL 15 or newer \(e\.g\. postgres:18\.\d+\); got "postgres:14\.12"/],
    [{ postgresImage: "postgres:bookworm" }, /trading-db-stack:postgresImage: the tag must start with the PostgreSQL version; this stack serves PostgreSQL 15 or newer/],
    [{ postgresCpus: "0" }, /trading-db-stack:postgresCpus: must be a decimal number of CPUs above 0 and at most 64/],
    [{ postgresCpus: "lots" }, /trading-db-stack:postgresCpus: must be a decimal number of CPUs/],
    [{ postgresMemoryMb: "100" }, /trading-db-stack:postgresMemoryMb: must be a whole number from 256 to 262144; got "100"/],
    [{ retainData: "yes" }, /trading-db-stack:retainData: must be true or false; got "yes"/],
    [{ namePrefix: "Trading-1" }, /trading-db-stack:namePrefix: must be 1-24 lowercase letters and digits, starting with a letter; got "Trading-1"/],
    [{ waitTimeoutSeconds: "5" }, /trading-db-stack:waitTimeoutSeconds: must be a whole number from 10 to 3600; got "5"/],
    [{ mongoMembers: "2" }, /trading-db-stack:mongoMembers: must be one of 1, 3, 5, 7 \(an odd number of members\); got "2"/],
    [{ mongoMembers: "9" }, /trading-db-stack:mongoMembers: must be one of 1, 3, 5, 7/],
    [{ mongoImage: "mongo:latest" }, /trading-db-stack:mongoImage: must be an image reference with a pinned tag/],
    [{ mongoImage: "mongo:5.0.31" }, /trading-db-stack:mongoImage: MongoDB 5\.0\.31 is too old: .*mongosh.*; this stack serves MongoDB 6\.0 or newer/],
    [{ mongoElectionTimeoutMs: "100" }, /trading-db-stack:mongoElectionTimeoutMs: must be a whole number from 500 to 60000; got "100"/],
    [{ redisImage: "redis:5.0.14" }, /trading-db-stack:redisImage: Redis 5\.0\.14 is too old/],
    [{ redisImage: "redis:6.0.20" }, /trading-db-stack:redisImage: Redis 6\.0\.20 is too old: the ACL file's channel rules \(&\*, resetchannels\) need Redis 6\.2; this stack serves Redis 6\.2 or newer \(e\.g\. redis:7\.4\.\d+\)/],
    [{ redisImage: "redis:alpine" }, /trading-db-stack:redisImage: the tag must start with the Redis version/],
    [{ redisMaxMemoryPolicy: "lru" }, /trading-db-stack:redisMaxMemoryPolicy: must be one of: volatile-lru, .*noeviction; got "lru"/],
    [{ redisMaxMemoryMb: "8" }, /trading-db-stack:redisMaxMemoryMb: must be a whole number from 16 to 262144; got "8"/],
    [{ influxdbImage: "influxdb:latest" }, /trading-db-stack:influxdbImage: must be an image reference with a pinned tag/],
    [{ influxdbImage: "influxdb:3.0.1" }, /trading-db-stack:influxdbImage: InfluxDB 3\.0\.1 is too new: InfluxDB 3 \(also `latest`\) is another product with another API; this stack serves InfluxDB 2\.1 or newer, below 3/],
    [{ influxdbImage: "influxdb:1.11" }, /trading-db-stack:influxdbImage: InfluxDB 1\.11 is too old/],
    [{ influxdbImage: "influxdb:2.0.9" }, /trading-db-stack:influxdbImage: InfluxDB 2\.0\.9 is too old: the entrypoint re-applies the admin password with `influxd recovery`, which InfluxDB 2\.1 added/],
    [{ pgadminImage: "dpage/pgadmin4:latest" }, /trading-db-stack:pgadminImage: must be an image reference with a pinned tag/],
    [{ mongoExpressImage: "mongo-express:0.54" }, /trading-db-stack:mongoExpressImage: the tag must start with the mongo-express major version 1/],
    [{ influxdbRetentionDays: "-1" }, /trading-db-stack:influxdbRetentionDays: must be a whole number from 0 to 36500; got "-1"/],
  ])("%j", (values, message) => {
    expect(problems(values).join("\n")).toMatch(message);
  });

  test("two services on one host port", () => {
    expect(problems({ postgresPort: "6000", postgresReplicaFirstPort: "5999", postgresReplicas: "2" })).toEqual([
      'trading-db-stack:postgresReplicaFirstPort (replica 2): host port 6000 is already used by trading-db-stack:postgresPort; give each service its own port',
    ]);
  });

  test("admin tools' ports count only when the tools are on", () => {
    expect(problems({ adminTools: "true", pgadminPort: "5432" })).toEqual([
      "trading-db-stack:pgadminPort: host port 5432 is already used by trading-db-stack:postgresPort; give each service its own port",
    ]);
    expect(parse({ adminTools: "false", pgadminPort: "5432" }).adminTools).toBeUndefined();
  });

  test("a MongoDB member on another service's port", () => {
    expect(problems({ mongoFirstPort: "6378", mongoMembers: "3" })).toEqual([
      "trading-db-stack:redisPort: host port 6379 is already used by trading-db-stack:mongoFirstPort (member 2); give each service its own port",
    ]);
  });

  test("replica ports running past 65535", () => {
    expect(problems({ postgresReplicaFirstPort: "65535", postgresReplicas: "2" })).toEqual([
      "trading-db-stack:postgresReplicaFirstPort (replica 2): port 65536 is above 65535; lower the setting or the replica count",
    ]);
  });

  test("every problem is reported at once, in one error that lists them", () => {
    let message = "";
    try {
      parse({ platform: "k8s", postgresReplicas: "-2", postgresImage: "postgres:latest" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration for stack of trading-db-stack:\n/);
    expect(message.split("\n  - ")).toHaveLength(4);
  });
});

describe("a key of this project the stack does not read is refused, with the nearest known key", () => {
  test("a typo of postgresReplicas", () => {
    expect(problems({}, ["trading-db-stack:postgresReplica"])).toEqual([
      "trading-db-stack:postgresReplica: is not a setting of this stack, so it would be ignored; did you mean `postgresReplicas`?",
    ]);
  });

  test("a typo of a secret key is named without its value; case does not hide the nearest key", () => {
    expect(problems({}, ["trading-db-stack:postgresSuperuserPasword", "trading-db-stack:PostgresReplicas"])).toEqual([
      "trading-db-stack:postgresSuperuserPasword: is not a setting of this stack, so it would be ignored; did you mean `postgresSuperuserPassword`?",
      "trading-db-stack:PostgresReplicas: is not a setting of this stack, so it would be ignored; did you mean `postgresReplicas`?",
    ]);
  });

  test("a key near no known key gets no guess", () => {
    expect(problems({}, ["trading-db-stack:colour"])).toEqual([
      "trading-db-stack:colour: is not a setting of this stack, so it would be ignored; the keys are listed in Pulumi.yaml and the README's Configuration section",
    ]);
  });

  test("reported with the other problems, before any of them", () => {
    expect(problems({ postgresReplicas: "9" }, ["trading-db-stack:postgresReplica"])).toEqual([
      "trading-db-stack:postgresReplica: is not a setting of this stack, so it would be ignored; did you mean `postgresReplicas`?",
      'trading-db-stack:postgresReplicas: must be a whole number from 0 to 5; got "9"',
    ]);
  });

  test("every known key, and keys of other namespaces, are accepted", () => {
    const known = [...Object.keys(CONFIG_KEYS), ...Object.keys(SECRET_CONFIG_KEYS)].map((k) => `trading-db-stack:${k}`);
    expect(() => parse({}, [...known, "docker:host", "kubernetes:context", "pulumi:tags", "aws:region"])).not.toThrow();
  });

  test("edit distance", () => {
    expect(editDistance("postgresreplica", "postgresreplicas")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });
});

describe("kubernetesStorageClass must be a DNS subdomain", () => {
  const rule = "must be a DNS subdomain (RFC 1123): at most 253 characters, lowercase letters, digits, - and ., each dot-separated part starting and ending with a letter or digit";

  test.each(["Fast_SSD", "-ssd", "ssd-", "fast..ssd", "fast.-ssd", `${"a".repeat(250)}.bcd`])("refused: %s", (name) => {
    expect(problems({ platform: "kubernetes", kubernetesStorageClass: name })).toEqual([`trading-db-stack:kubernetesStorageClass: ${rule}; got "${name}"`]);
  });

  test.each(["standard", "fast-ssd", "ebs.csi.aws.com", "gp3", `${"a".repeat(249)}.bcd`])("accepted: %s", (name) => {
    expect(parse({ platform: "kubernetes", kubernetesStorageClass: name }).kubernetes?.storageClass).toBe(name);
  });

  test("empty: the cluster's default class", () => {
    expect(parse({ platform: "kubernetes", kubernetesStorageClass: "" }).kubernetes?.storageClass).toBeUndefined();
  });
});

describe("postgresMaxSlotWalKeepMb must fit on the data volume with room for the data (Kubernetes)", () => {
  test("more than half of postgresStorageGb is refused, naming both keys", () => {
    expect(problems({ platform: "kubernetes", postgresStorageGb: "20", postgresMaxSlotWalKeepMb: "10241" })).toEqual([
      'trading-db-stack:postgresMaxSlotWalKeepMb: must be at most 10240 MiB (half of trading-db-stack:postgresStorageGb = 20 GiB): the WAL a lost replica\'s slot holds back sits on the primary\'s data volume and must leave room for the data; got "10241" (lower it or raise the volume size)',
    ]);
  });

  test("exactly half is accepted", () => {
    expect(parse({ platform: "kubernetes", postgresStorageGb: "20", postgresMaxSlotWalKeepMb: "10240" }).postgres.maxSlotWalKeepMb).toBe(10240);
  });

  test("Docker volumes have no size: nothing to check", () => {
    expect(parse({ platform: "docker", postgresStorageGb: "1", postgresMaxSlotWalKeepMb: "16384" }).postgres.maxSlotWalKeepMb).toBe(16384);
  });

  test("a bad volume size is reported alone, not also as too small", () => {
    expect(problems({ platform: "kubernetes", postgresStorageGb: "0", postgresMaxSlotWalKeepMb: "16384" })).toEqual([
      'trading-db-stack:postgresStorageGb: must be a whole number from 1 to 65536; got "0"',
    ]);
  });
});

describe("postgresMaxConnections must fit in postgresMemoryMb: shared_buffers (a quarter) plus 2 MiB per connection", () => {
  test("one connection too many is refused, naming both keys and the largest allowed count", () => {
    expect(problems({ postgresMemoryMb: "1024", postgresMaxConnections: "385" })).toEqual([
      'trading-db-stack:postgresMaxConnections: must be at most 384 with trading-db-stack:postgresMemoryMb = 1024: shared_buffers takes 256 MiB (a quarter) and each connection needs at least 2 MiB of the rest; got "385" (lower it or raise the memory)',
    ]);
    expect(problems({ postgresMemoryMb: "256" })).toEqual([
      'trading-db-stack:postgresMaxConnections: must be at most 96 with trading-db-stack:postgresMemoryMb = 256: shared_buffers takes 64 MiB (a quarter) and each connection needs at least 2 MiB of the rest; got "100" (lower it or raise the memory)',
    ]);
  });

  test("the largest allowed count is accepted", () => {
    expect(parse({ postgresMemoryMb: "1024", postgresMaxConnections: "384" }).postgres.maxConnections).toBe(384);
    expect(parse({ postgresMemoryMb: "256", postgresMaxConnections: "96" }).postgres.maxConnections).toBe(96);
    expect(postgresMaxConnectionsFor(4096)).toBe(1536);
  });

  test("a bad memory size is reported alone", () => {
    expect(problems({ postgresMemoryMb: "100", postgresMaxConnections: "5000" })).toEqual([
      'trading-db-stack:postgresMemoryMb: must be a whole number from 256 to 262144; got "100"',
    ]);
  });

  test("the dev and prod stacks pass every rule", () => {
    expect(fromStack("dev").postgres).toMatchObject({ memoryMb: 1024, maxConnections: 100 });
    expect(fromStack("prod").postgres).toMatchObject({ memoryMb: 4096, maxConnections: 300, storageGb: 100, maxSlotWalKeepMb: 16384 });
  });
});
