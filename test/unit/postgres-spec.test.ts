import { describe, expect, test } from "vitest";
import { parseStackConfig } from "../../components/config";
import { dataDirectory, pgHbaTemplate, postgresCommand, postgresUri, serverSettings, tradingSimulationPostgresEnv } from "../../components/postgres-spec";

describe("postgres specs", () => {
  test("URIs percent-encode the user and password", () => {
    expect(postgresUri("postgresql", "us@r", "p:a/ss%", { host: "postgres", port: 5432 }, "trading_results")).toBe(
      "postgresql://us%40r:p%3Aa%2Fss%25@postgres:5432/trading_results",
    );
  });

  test("seed 002's variables", () => {
    expect(tradingSimulationPostgresEnv("owner", "pw", { host: "postgres", port: 5432 })).toEqual({
      POSTGRES_HOST: "postgres",
      POSTGRES_PORT: "5432",
      POSTGRES_DB: "trading_results",
      POSTGRES_USER: "owner",
      POSTGRES_PASSWORD: "pw",
    });
  });

  test("pg_hba: the superuser and the owners only from inside the server and the host, replication only for the replication role from the internal network, SCRAM elsewhere, never trust", () => {
    const rules = pgHbaTemplate()
      .split("\n")
      .filter((line) => line && !line.startsWith("#"))
      .map((line) => line.split(/\s+/));
    expect(rules).toEqual([
      ["local", "all", "postgres", "peer"],
      ["local", "all", "all", "scram-sha-256"],
      ["host", "all", "postgres,trading_platform_owner,trading_results_owner", "127.0.0.1/32", "scram-sha-256"],
      ["host", "all", "postgres,trading_platform_owner,trading_results_owner", "::1/128", "scram-sha-256"],
      ["host", "all", "postgres,trading_platform_owner,trading_results_owner", "@HOST_GATEWAY@", "scram-sha-256"],
      ["host", "all", "postgres,trading_platform_owner,trading_results_owner", "all", "reject"],
      ["host", "replication", "replicator", "@DB_NETWORK@", "scram-sha-256"],
      ["host", "replication", "all", "all", "reject"],
      ["host", "all", "all", "all", "scram-sha-256"],
    ]);
  });

  test("settings scale with memory, not with the replica count (a replica change never restarts the primary); the command passes each as -c", () => {
    const config = (replicas: string) => parseStackConfig((key) => ({ postgresMemoryMb: "4096", postgresReplicas: replicas })[key as string]).postgres;
    const settings = serverSettings(config("2"));
    expect(settings).toMatchObject({ shared_buffers: "1024MB", effective_cache_size: "3072MB", max_wal_senders: "14", max_replication_slots: "14", wal_level: "replica" });
    expect(serverSettings(config("0"))).toEqual(settings);
    expect(serverSettings(config("5"))).toEqual(settings);
    expect(postgresCommand({ a: "1", b: "x y" })).toEqual(["postgres", "-c", "a=1", "-c", "b=x y"]);
    expect(dataDirectory(18)).toBe("/var/lib/postgresql/18/docker");
  });
});
