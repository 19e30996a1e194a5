import { describe, expect, test } from "vitest";
import { parseStackConfig } from "../../components/config";
import { influxBuckets, influxdbEnv } from "../../components/influxdb-spec";
import { mongoDirectUri, mongodCommand, mongoNames, mongoReplicaSetUri, replicaSetMembers, wiredTigerCacheGb } from "../../components/mongo-spec";
import { redisAclFile, redisConf } from "../../components/redis-spec";
import { nextReplicaSetConfig } from "../../init/mongo/apply";

const defaults = parseStackConfig(() => undefined);

describe("MongoDB specs", () => {
  test("member 1 keeps seed 002's names; other members are numbered", () => {
    const names = mongoNames("trading");
    expect([names.container(1), names.host(1), names.dataVolume(1), names.configVolume(1)]).toEqual(["trading-mongodb", "mongodb", "trading_mongodb_data", "trading_mongodb_config"]);
    expect([names.container(3), names.host(3), names.dataVolume(3), names.configVolume(3)]).toEqual(["trading-mongodb-3", "mongodb-3", "trading_mongodb_3_data", "trading_mongodb_3_config"]);
  });

  test("WiredTiger cache: half the memory less 256 MiB, at least 0.25 GB", () => {
    expect(wiredTigerCacheGb(512)).toBe(0.25);
    expect(wiredTigerCacheGb(4096)).toBe(1.75);
    expect(mongodCommand({ ...defaults.mongo, memoryMb: 4096 })).toEqual(expect.arrayContaining(["--wiredTigerCacheSizeGB", "1.75"]));
  });

  test("URIs: every member with replicaSet in the network, one member with directConnection on the host; credentials encoded", () => {
    const names = mongoNames("trading");
    const members = replicaSetMembers([1, 2, 3].map((n) => ({ host: names.host(n), port: 27017 })));
    const user = { user: "app", password: "p@ss:/", database: "trading_configs" };
    expect(mongoReplicaSetUri(user, members, "secondaryPreferred")).toBe(
      "mongodb://app:p%40ss%3A%2F@mongodb:27017,mongodb-2:27017,mongodb-3:27017/trading_configs?replicaSet=rs0&authSource=admin&readPreference=secondaryPreferred",
    );
    expect(mongoDirectUri(user, { host: "127.0.0.1", port: 27017 })).toBe("mongodb://app:p%40ss%3A%2F@127.0.0.1:27017/trading_configs?directConnection=true&authSource=admin");
  });
});

describe("replica-set reconfiguration, one step at a time", () => {
  const wanted = (n: number) => Array.from({ length: n }, (_, i) => ({ _id: i, host: `m${i + 1}:27017`, priority: i === 0 ? 2 : 1 }));
  const current = (n: number, extra: Record<string, unknown> = {}) => ({
    _id: "rs0",
    version: 4,
    term: 2,
    members: wanted(n).map((m) => ({ ...m, votes: 1 })),
    settings: { electionTimeoutMillis: 1000, replicaSetId: { id: "kept as is" } },
    ...extra,
  });

  test("adds one missing member per step, with the next free _id, bumping the version and dropping term", () => {
    const next = nextReplicaSetConfig(current(1), wanted(3), 1000)!;
    expect(next.version).toBe(5);
    expect(next.term).toBeUndefined();
    expect(next.members.map((m: { host: string }) => m.host)).toEqual(["m1:27017", "m2:27017"]);
    const then = nextReplicaSetConfig(next, wanted(3), 1000)!;
    expect(then.members.map((m: { host: string }) => m.host)).toEqual(["m1:27017", "m2:27017", "m3:27017"]);
    expect(nextReplicaSetConfig(then, wanted(3), 1000)).toBeUndefined();
  });

  test("removes one extra member per step", () => {
    const next = nextReplicaSetConfig(current(5), wanted(3), 1000)!;
    expect(next.members).toHaveLength(4);
    expect(nextReplicaSetConfig(next, wanted(3), 1000)!.members).toHaveLength(3);
  });

  test("fixes priorities and the election timeout together, keeping other settings", () => {
    const drifted = current(3);
    drifted.members[0].priority = 1;
    const next = nextReplicaSetConfig(drifted, wanted(3), 10000)!;
    expect(next.members[0].priority).toBe(2);
    expect(next.settings).toEqual({ electionTimeoutMillis: 10000, replicaSetId: drifted.settings.replicaSetId });
    expect(next.settings.replicaSetId).toBe(drifted.settings.replicaSetId); // the same object: an ObjectId must stay one
  });

  test("does not touch the config it was given", () => {
    const given = current(1);
    const copy = JSON.stringify(given);
    nextReplicaSetConfig(given, wanted(3), 5000);
    expect(JSON.stringify(given)).toBe(copy);
  });
});

describe("Redis specs", () => {
  test("redis.conf: AOF, ACL file, maxmemory and policy from config", () => {
    const conf = redisConf({ ...defaults.redis, maxMemoryMb: 512, maxMemoryPolicy: "allkeys-lru" });
    expect(conf).toMatch(/^appendonly yes$/m);
    expect(conf).toMatch(/^maxmemory 512mb$/m);
    expect(conf).toMatch(/^maxmemory-policy allkeys-lru$/m);
  });

  test("the ACL file holds only password hashes, and switches the default user off", () => {
    const acl = redisAclFile({ admin: "a".repeat(64), app: "b".repeat(64), healthcheck: "c".repeat(64) });
    expect(acl.split("\n")[0]).toBe("user default off resetpass resetkeys resetchannels -@all");
    expect(acl).toContain(`user healthcheck on #${"c".repeat(64)} resetkeys resetchannels -@all +ping`);
    expect(acl).not.toMatch(/nopass|>/);
  });
});

describe("InfluxDB specs", () => {
  test("no setup mode (the hook onboards a new server): the wrapper's password file only; no retention (the hook owns it, so a retention change leaves the container alone)", () => {
    const env = influxdbEnv();
    expect(env).toMatchObject({ INFLUXDB_ADMIN_PASSWORD_FILE: "/run/secrets/influxdb-admin-password" });
    expect(Object.keys(env).filter((name) => name.startsWith("DOCKER_INFLUXDB_INIT_"))).toEqual([]);
  });

  test("one bucket per measurement of seed 000, and the hourly rollup with its own retention", () => {
    const buckets = influxBuckets({ ...defaults.influxdb, retentionDays: 1, downsampledRetentionDays: 0 });
    expect(buckets.map((b) => [b.name, b.retentionSeconds])).toEqual([
      ["market-data", 86400],
      ["trades", 86400],
      ["performance", 86400],
      ["system-metrics", 86400],
      ["market-data-1h", 0],
    ]);
  });
});
