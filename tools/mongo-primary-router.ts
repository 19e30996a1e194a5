// A local port that always reaches the replica set's primary, for a machine that can reach each
// member but cannot resolve the names the set knows them by (a laptop through port-forwards): a
// driver there must connect directly (directConnection=true), and a direct connection to one
// member does not follow an election. A monitor asks every member's hello twice a second; each
// connection accepted here is piped to the member that is primary, and closed as soon as that
// member no longer is: since MongoDB 4.2 a step-down keeps client connections open, and a driver
// on a direct connection clears its pool only for a network error, so without this its writes
// would go on failing with NotWritablePrimary. After the close it reconnects, through here, to the
// new primary (a retryable write goes through on its retry).
import * as net from "net";
import { MongoClient, type Document } from "mongodb";

export interface RoutedMember {
  host: string;
  port: number;
  /** What messages call it: "namespace/pod:port". */
  label: string;
}

/** Whether each member is the writable primary now, and its electionId (the newer wins a tie). */
export type PrimaryProbe = (member: RoutedMember) => Promise<{ primary: boolean; electionId?: string }>;

export interface PrimaryRouter {
  host: string;
  port: number;
  /** The member the monitor last saw as primary. */
  currentPrimary(): string | undefined;
  close(): Promise<void>;
}

export interface PrimaryRouterOptions {
  /** How long a connection waits for a primary (an election under way) before it is closed. */
  waitMs?: number;
  /** How often the monitor asks the members. */
  intervalMs?: number;
  /** How a member is asked; the default sends hello (isMaster) without logging in. */
  probe?: PrimaryProbe;
  /** With the stack's `tls`: its CA, which the default probe verifies each member against. */
  tlsCa?: string;
}

/** Listens on host:port (0: any free port) and routes each connection to the primary of `members`. */
export async function routeToPrimary(members: RoutedMember[], listen: { host: string; port: number }, options: PrimaryRouterOptions = {}): Promise<PrimaryRouter> {
  const waitMs = options.waitMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 500;
  const hello = options.probe ? undefined : helloProbe(members, options.tlsCa);
  const probe = options.probe ?? hello!.probe;
  const pairs = new Set<{ member: RoutedMember; client: net.Socket; upstream: net.Socket }>();
  const waiting = new Set<net.Socket>();
  let current: RoutedMember | undefined;
  let closed = false;

  const look = async () => {
    // undefined: no answer this time (down, or slow).
    const answers = await Promise.all(members.map((m) => probe(m).catch(() => undefined)));
    // Two members may both say primary for a moment: the one elected last is.
    let best: number | undefined;
    answers.forEach((a, i) => {
      if (a?.primary && (best === undefined || (a.electionId ?? "") > (answers[best]?.electionId ?? ""))) best = i;
    });
    current = best === undefined ? undefined : members[best];
    // A connection whose member says it is no longer primary, or while another is, is closed: the
    // driver reconnects through here. One that did not answer this time is left alone.
    for (const pair of pairs) {
      const answer = answers[members.indexOf(pair.member)];
      if ((answer && !answer.primary) || (current && current !== pair.member)) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
    }
    if (current) for (const client of waiting) connect(client, current);
  };

  const connect = (client: net.Socket, member: RoutedMember) => {
    waiting.delete(client);
    const upstream = net.connect(member.port, member.host);
    const pair = { member, client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.once("close", end);
    client.once("close", end);
    upstream.on("error", end);
    upstream.once("connect", () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  };

  const server = net.createServer((client) => {
    client.on("error", () => client.destroy());
    client.pause();
    if (current) return connect(client, current);
    // No primary now (an election): wait for the monitor to find one, or give up.
    waiting.add(client);
    const timer = setTimeout(() => waiting.delete(client) && client.destroy(), waitMs);
    client.once("close", () => (clearTimeout(timer), waiting.delete(client)));
  });

  let monitor: Promise<void> = look();
  await monitor;
  let looking = false;
  const timer = setInterval(() => {
    if (looking || closed) return; // one look at a time
    looking = true;
    monitor = look().finally(() => (looking = false));
  }, intervalMs);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => (server.off("error", reject), resolve()));
  });
  return {
    host: listen.host,
    port: (server.address() as net.AddressInfo).port,
    currentPrimary: () => current?.label,
    close: async () => {
      closed = true;
      clearInterval(timer);
      await monitor;
      for (const client of waiting) client.destroy();
      for (const pair of pairs) (pair.client.destroy(), pair.upstream.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await hello?.close();
    },
  };
}

/** hello (isMaster, which every MongoDB from 4.0 answers) over one kept client per member; over TLS verified against `tlsCa`. */
function helloProbe(members: RoutedMember[], tlsCa: string | undefined): { probe: PrimaryProbe; close(): Promise<void> } {
  const tls = tlsCa ? { tls: true, ca: tlsCa } : {};
  const clients = new Map(
    members.map((m) => [m, new MongoClient(`mongodb://${m.host}:${m.port}/?directConnection=true`, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000, socketTimeoutMS: 1000, appName: "trading-db-stack forward", ...tls })]),
  );
  return {
    probe: async (member) => {
      const reply: Document = await clients.get(member)!.db("admin").command({ isMaster: 1 });
      return { primary: reply.ismaster === true && typeof reply.setName === "string", electionId: reply.electionId?.toHexString?.() };
    },
    close: async () => void (await Promise.all([...clients.values()].map((c) => c.close().catch(() => undefined)))),
  };
}
