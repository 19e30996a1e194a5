// How the tools reach a deployed stack's servers: on Docker the adminConnections URIs name
// 127.0.0.1 ports the engine publishes, so they are used as they are; on Kubernetes each server is
// opened through a port-forward to its pod (init/access.ts, the hooks' own access layer), and its
// URI is pointed at the tunnel's local end.
import { openAccess, type OpenedAccess, type ServerAccess } from "../init/access";
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

/**
 * Opens every server of the stack. `localPorts`: listen on the port each URI names (npm run
 * forward), else on any free port (npm run verify, which then connects through them itself).
 */
export async function reachStack(connections: AdminConnections, options: { localPorts?: boolean } = {}): Promise<Reached> {
  const labels = new Map<string, string>();
  const access = connections.access;
  if (!access) return { connections, labels, close: async () => undefined };
  const opened: OpenedAccess[] = [];
  const through = async (uri: string, server: ServerAccess): Promise<string> => {
    const tunnel = await openAccess(server, options.localPorts ? { localPort: uriPort(uri) } : {});
    opened.push(tunnel);
    const reached = pointAt(uri, tunnel.host, tunnel.port);
    labels.set(reached, tunnel.label);
    return reached;
  };
  try {
    const pg = connections.postgres;
    const reached: AdminConnections = {
      postgres: {
        primary: await through(pg.primary, access.postgres.primary),
        replicas: await Promise.all(pg.replicas.map((uri, i) => through(uri, access.postgres.replicas[i]))),
      },
      mongo: { members: await Promise.all(connections.mongo.members.map((uri, i) => through(uri, access.mongo.members[i]))) },
      redis: { url: await through(connections.redis.url, access.redis) },
      influxdb: { url: (await through(connections.influxdb.url, access.influxdb)).replace(/\/$/, ""), token: connections.influxdb.token },
    };
    return { connections: reached, labels, close: async () => void (await Promise.all(opened.map((o) => o.close()))) };
  } catch (error) {
    await Promise.all(opened.map((o) => o.close()));
    throw error;
  }
}
