// The env maps services read, per consumer (seed 000: advanced-trading-platform, seed 002:
// trading-simulation) and per place they run: on the app network (`inNetwork`, by container name)
// or on the Docker host (`host`, 127.0.0.1 ports). Each database component contributes its part.

export const CONSUMERS = ["advanced-trading-platform", "trading-simulation"] as const;
export type Consumer = (typeof CONSUMERS)[number];
/** The stack's servers, as a consumer's network access names them. */
export type DatabaseKind = "postgres" | "mongodb" | "redis" | "influxdb";
/**
 * The servers each consumer's env map points to (seed 000: orders in PostgreSQL, the cache in
 * Redis, metrics in InfluxDB; seed 002: results in PostgreSQL, configs in MongoDB): on Kubernetes
 * the NetworkPolicies let each consumer reach these and no others.
 */
export const CONSUMER_DATABASES: Record<Consumer, readonly DatabaseKind[]> = {
  "advanced-trading-platform": ["postgres", "redis", "influxdb"],
  "trading-simulation": ["postgres", "mongodb"],
};
export type Place = "inNetwork" | "host";
export type ServiceEnv = Record<Place, Record<Consumer, Record<string, string>>>;
/** A component's contribution: variables for some consumers. */
export type ServiceEnvPart = Record<Place, Partial<Record<Consumer, Record<string, string>>>>;

/** Merges the parts; two parts setting one variable for one consumer is a bug, so it throws. */
export function mergeServiceEnv(parts: ServiceEnvPart[]): ServiceEnv {
  const merged = {} as ServiceEnv;
  for (const place of ["inNetwork", "host"] as const) {
    merged[place] = Object.fromEntries(CONSUMERS.map((c) => [c, {}])) as Record<Consumer, Record<string, string>>;
    for (const part of parts) {
      for (const consumer of CONSUMERS) {
        for (const [name, value] of Object.entries(part[place][consumer] ?? {})) {
          if (name in merged[place][consumer]) throw new Error(`serviceEnv: ${consumer} gets ${name} twice`);
          merged[place][consumer][name] = value;
        }
      }
    }
  }
  return merged;
}
