// tools/mongo-primary-router.ts with its probe scripted: two TCP servers play the members (each
// answers with its name), so what is checked is the router's own rule, whatever a server version
// does with its connections on a step-down (4.0 closes them, 4.2 and later keep them).
import * as net from "net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { routeToPrimary, type PrimaryRouter, type RoutedMember } from "../../tools/mongo-primary-router";
import { waitUntil } from "../support/wait";

interface Member extends RoutedMember {
  server: net.Server;
}

async function member(name: string): Promise<Member> {
  const server = net.createServer((socket) => socket.on("data", (d) => socket.write(`${name}:${d}`)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { host: "127.0.0.1", port: (server.address() as net.AddressInfo).port, label: name, server };
}

/** A connection through the router: what it answers to one message, and whether it was closed. */
function client(router: PrimaryRouter) {
  const socket = net.connect(router.port, router.host);
  let closed = false;
  socket.on("close", () => (closed = true));
  socket.on("error", () => undefined);
  return {
    ask: (text: string) => new Promise<string>((resolve, reject) => (socket.once("data", (d) => resolve(String(d))), socket.once("close", () => reject(new Error("closed"))), socket.write(text))),
    closed: () => closed,
    end: () => socket.destroy(),
  };
}

let a: Member;
let b: Member;
/** What the scripted probe answers: the primary's label and electionIds, or a member that does not answer. */
const state: { primary: string[]; electionIds: Record<string, string>; silent: string[] } = { primary: [], electionIds: {}, silent: [] };
let router: PrimaryRouter;

beforeAll(async () => {
  [a, b] = await Promise.all([member("A"), member("B")]);
  state.primary = ["A"];
  router = await routeToPrimary([a, b], { host: "127.0.0.1", port: 0 }, {
    intervalMs: 50,
    waitMs: 5_000,
    probe: async (m) => {
      if (state.silent.includes(m.label)) throw new Error("no answer");
      return { primary: state.primary.includes(m.label), electionId: state.electionIds[m.label] };
    },
  });
});

afterAll(async () => {
  await router.close();
  for (const m of [a, b]) m.server.close();
});

describe("npm run forward's MongoDB router", () => {
  test("pipes a connection to the primary, and closes it once that member is primary no longer; the next connection reaches the new one", async () => {
    const first = client(router);
    expect(await first.ask("x")).toBe("A:x");
    state.primary = ["B"];
    await waitUntil(async () => first.closed(), 2_000, () => "the connection to the old primary stayed open", 20);
    const second = client(router);
    expect(await second.ask("y")).toBe("B:y");
    expect(router.currentPrimary()).toBe("B");
    second.end();
  });

  test("while no member is primary (an election), a new connection waits, and goes to the one elected", async () => {
    state.primary = [];
    await waitUntil(async () => router.currentPrimary() === undefined, 2_000, () => "the monitor still sees a primary", 20);
    const waiting = client(router);
    const answer = waiting.ask("z");
    await new Promise((resolve) => setTimeout(resolve, 200));
    state.primary = ["A"];
    expect(await answer).toBe("A:z");
    waiting.end();
  });

  test("a primary that misses one probe keeps its connections; a member that says it is secondary loses them", async () => {
    const kept = client(router);
    expect(await kept.ask("1")).toBe("A:1");
    state.silent = ["A"];
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(kept.closed()).toBe(false);
    expect(await kept.ask("2")).toBe("A:2");
    state.silent = [];
    state.primary = [];
    await waitUntil(async () => kept.closed(), 2_000, () => "a secondary's connection stayed open", 20);
  });

  test("two members that both say primary for a moment: the one with the newer electionId", async () => {
    state.primary = ["A", "B"];
    state.electionIds = { A: "7fffffff0000000000000002", B: "7fffffff0000000000000003" };
    await waitUntil(async () => router.currentPrimary() === "B", 2_000, () => `the monitor chose ${router.currentPrimary()}`, 20);
    const c = client(router);
    expect(await c.ask("w")).toBe("B:w");
    c.end();
  });

  test("no primary within the wait: the connection is closed", async () => {
    const short = await routeToPrimary([a], { host: "127.0.0.1", port: 0 }, { intervalMs: 50, waitMs: 300, probe: async () => ({ primary: false }) });
    try {
      const c = client(short);
      await expect(c.ask("q")).rejects.toThrow("closed");
    } finally {
      await short.close();
    }
  });
});
