// How the tools reach a deployed stack's servers: on Docker the adminConnections URIs name
// 127.0.0.1 ports the engine publishes, so they are used as they are; on Kubernetes each server is
// opened through a port-forward to its pod (init/access.ts, the hooks' own access layer), and its
// URI is pointed at the tunnel's local end.
import { openAccess, type OpenedAccess, type ServerAccess } from "../init/access";
import { routeToPrimary } from "./mongo-primary-router";
import type { AdminConnections } from "../components/outputs";

export interface Reached {
  connections: AdminConnections;
  /** What each URI now reaches: "namespace/pod:port" through a tunnel, or the URI's own host:port. */
  labels: Map<string, string>;
  close(): Promise<void>;
}

/** The URI with its host and port replaced (postgresql://, mongodb://, redis://, http://). */
export function pointAt(uri: string, host: string, port: number): string {
  const url = new URL(uri);
  url.hostname = host;
  url.port = String(port);
  return url.toString();
}

/** The port a URI names (its scheme's default when none). */
export function uriPort(uri: string): number {
  const url = new URL(uri);
  if (url.port) return Number(url.port);
  const defaults: Record<string, number> = { "postgresql:": 5432, "mongodb:": 27017, "redis:": 6379, "http:": 80, "https:": 443 };
  return defaults[url.protocol] ?? 0;
}

export interface ReachOptions {
  /** Listen on the port each URI names (npm run forward), else on any free port (npm run verify, which then connects through them itself). */
  localPorts?: boolean;
  /**
   * MongoDB member 1's port routes each connection to whichever member is primary (npm run
   * forward): the stack's host URIs name that port, and a direct connection to one member would
   * not follow an election. Member 1 itself is then reached only as the primary.
   */
  followMongoPrimary?: boolean;
  /** With the stack's `tls`: its CA, which the MongoDB router verifies the members against. */
  tlsCa?: string;
}

/** Opens every server of the stack. */
export async function reachStack(connections: AdminConnections, options: ReachOptions = {}): Promise<Reached> {
  const labels = new Map<string, string>();
  const access = connections.access;
  if (!access) return { connections, labels, close: async () => undefined };
  const opened: Array<{ close(): Promise<void> }> = [];
  const open = async (uri: string, server: ServerAccess, localPort: boolean): Promise<OpenedAccess> => {
    const tunnel = await openAccess(server, localPort ? { localPort: uriPort(uri) } : {});
    opened.push(tunnel);
    return tunnel;
  };
  /** The URI pointed at `at` (a tunnel or the router), remembered with what it reaches. */
  const pointThrough = (uri: string, at: { host: string; port: number }, label: string): string => {
    const reached = pointAt(uri, at.host, at.port);
    labels.set(reached, label);
    return reached;
  };
  const through = async (uri: string, server: ServerAccess): Promise<string> => {
    const tunnel = await open(uri, server, options.localPorts ?? false);
    return pointThrough(uri, tunnel, tunnel.label);
  };
  const mongoMembers = async (uris: string[]): Promise<string[]> => {
    if (!options.followMongoPrimary) return Promise.all(uris.map((uri, i) => through(uri, access.mongo.members[i])));
    // Member 1 through a tunnel on any port (only the router uses it); the others on their own, as without routing.
    const tunnels = await Promise.all(uris.map((uri, i) => open(uri, access.mongo.members[i], i > 0 && (options.localPorts ?? false))));
    const router = await routeToPrimary(tunnels, { host: tunnels[0].host, port: options.localPorts ? uriPort(uris[0]) : 0 }, options.tlsCa ? { tlsCa: options.tlsCa } : {});
    opened.push(router);
    return uris.map((uri, i) =>
      i === 0
        ? pointThrough(uri, router, `the replica set's primary, whichever member (${tunnels.map((t) => t.label).join(", ")})`)
        : pointThrough(uri, tunnels[i], tunnels[i].label),
    );
  };
  try {
    const pg = connections.postgres;
    const reached: AdminConnections = {
      postgres: {
        primary: await through(pg.primary, access.postgres.primary),
        replicas: await Promise.all(pg.replicas.map((uri, i) => through(uri, access.postgres.replicas[i]))),
      },
      mongo: { members: await mongoMembers(connections.mongo.members) },
      redis: { url: await through(connections.redis.url, access.redis) },
      influxdb: { url: (await through(connections.influxdb.url, access.influxdb)).replace(/\/$/, ""), token: connections.influxdb.token },
    };
    return { connections: reached, labels, close: async () => void (await Promise.all(opened.map((o) => o.close()))) };
  } catch (error) {
    await Promise.all(opened.map((o) => o.close()));
    throw error;
  }
}
