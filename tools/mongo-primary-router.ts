// A local port that always reaches the replica set's primary, for a machine that can reach each
// member but cannot resolve the names the set knows them by (a laptop through port-forwards): a
// driver there must connect directly (directConnection=true), and a direct connection to one
// member does not follow an election. Each connection accepted here is piped to whichever member
// answers hello as the writable primary at that moment; after a failover the driver's write fails
// with NotWritablePrimary, it drops its pool, and the connections it opens next reach the new
// primary (a retryable write goes through on its retry).
import * as net from "net";
import { MongoClient } from "mongodb";

export interface RoutedMember {
  host: string;
  port: number;
  /** What messages call it: "namespace/pod:port". */
  label: string;
}

export interface PrimaryRouter {
  host: string;
  port: number;
  /** The member the last connection was piped to. */
  lastPrimary(): string | undefined;
  close(): Promise<void>;
}

export interface PrimaryRouterOptions {
  /** Only a primary of this set counts; any set's when absent. */
  replicaSet?: string;
  /** How long a connection waits for a primary (an election under way) before it is closed. */
  waitMs?: number;
}

/** Listens on host:port (0: any free port) and routes each connection to the primary of `members`. */
export async function routeToPrimary(members: RoutedMember[], listen: { host: string; port: number }, options: PrimaryRouterOptions = {}): Promise<PrimaryRouter> {
  const waitMs = options.waitMs ?? 15_000;
  // One monitoring client per member, kept open: asking hello is then a round trip, not a handshake.
  const probes = members.map((m) => new MongoClient(`mongodb://${m.host}:${m.port}/?directConnection=true`, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000, appName: "trading-db-stack forward" }));
  const sockets = new Set<net.Socket>();
  let last: string | undefined;

  const findPrimary = async (): Promise<RoutedMember | undefined> => {
    const replies = await Promise.all(probes.map((p) => p.db("admin").command({ isMaster: 1 }).catch(() => undefined)));
    const index = replies.findIndex((r) => r?.ismaster === true && typeof r.setName === "string" && (options.replicaSet ?? r.setName) === r.setName);
    return index === -1 ? undefined : members[index];
  };

  const route = async (client: net.Socket) => {
    sockets.add(client);
    client.once("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    client.pause();
    const deadline = Date.now() + waitMs;
    let primary = await findPrimary();
    while (!primary && !client.destroyed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      primary = await findPrimary();
    }
    if (!primary || client.destroyed) return void client.destroy();
    last = primary.label;
    const upstream = net.connect(primary.port, primary.host);
    sockets.add(upstream);
    upstream.once("close", () => (sockets.delete(upstream), client.destroy()));
    upstream.on("error", () => upstream.destroy());
    client.once("close", () => upstream.destroy());
    upstream.once("connect", () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  };

  const server = net.createServer((socket) => void route(socket));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => (server.off("error", reject), resolve()));
  });
  return {
    host: listen.host,
    port: (server.address() as net.AddressInfo).port,
    lastPrimary: () => last,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(probes.map((p) => p.close().catch(() => undefined)));
    },
  };
}
