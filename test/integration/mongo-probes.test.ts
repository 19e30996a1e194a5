// The MongoDB member's Kubernetes probes (components/mongo-spec.ts) against a real replica set:
// `ready` (startup; Docker's healthcheck) answers once mongod does; `serving` (readiness) only for
// the primary, a secondary, or a member of a set not formed yet, not for a member in RECOVERING.
// Each runs as the pod runs it, `sh -c`, with mongosh played by the engine suite's stand-in (the
// mongod here is 4.0, whose shell is not mongosh); only the port differs from the pod's.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { programKeyfile, startMembers, stopMembers, type MongoMember } from "../support/mongo";
import { mockPassword, requireBuilt, ROOT, runProgram, serializedHook } from "../support/pulumi";
import { waitUntil } from "../support/wait";

const rootPassword = mockPassword("trading-secrets-mongo-root-password", 32);
let members: MongoMember[] = [];
let bin: string;
let spec: { mongoReadyCheck(): { command: string }; mongoServingCheck(): { command: string } };
let initiate: () => Promise<unknown>;

/** Exit status of a probe command run against member `m`. */
function probe(command: string, m: MongoMember): number | null {
  const result = spawnSync("sh", ["-c", command.replace("--port 27017", `--port ${m.port}`)], {
    encoding: "utf8",
    env: { PATH: `${bin}:${process.env.PATH}`, HOSTNAME: "127.0.0.1" },
    timeout: 30_000,
  });
  return result.status;
}

async function asRoot<T>(m: MongoMember, work: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(`mongodb://root:${rootPassword}@127.0.0.1:${m.port}/admin?directConnection=true&authSource=admin`);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  const run = await runProgram("dev");
  spec = requireBuilt("components/mongo-spec.js");
  const hook = serializedHook(run.byName("trading-mongo-init"));
  members = await startMembers(3, programKeyfile(run));
  bin = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-mongosh-"));
  fs.writeFileSync(path.join(bin, "mongosh"), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, "test/engine/images/mongo/mongosh.js")}" "$@"\n`, { mode: 0o755 });
  initiate = () =>
    hook.provider.create({
      ...hook.inputs,
      members: members.map((m, i) => ({ _id: i, host: `127.0.0.1:${m.port}`, priority: i === 0 ? 2 : 1 })),
      clientEndpoints: members.map((m) => ({ host: "127.0.0.1", port: m.port })),
      timeoutSeconds: 90,
    });
}, 120_000);

afterAll(async () => {
  await stopMembers(members);
  if (bin) fs.rmSync(bin, { recursive: true, force: true });
});

describe("MongoDB member probes", () => {
  test("before the set is formed: up, and serving (the hook forms the set only once every member is ready)", () => {
    for (const m of members) {
      expect(probe(spec.mongoReadyCheck().command, m)).toBe(0);
      expect(probe(spec.mongoServingCheck().command, m)).toBe(0);
    }
  });

  test("in a formed set: the primary and the secondaries serve", async () => {
    await initiate();
    let states: string[] = [];
    await waitUntil(
      async () => {
        states = await asRoot(members[0], async (c) => (await c.db("admin").command({ replSetGetStatus: 1 })).members.map((x: { stateStr: string }) => x.stateStr));
        return states.filter((s) => s === "SECONDARY").length === 2;
      },
      60_000,
      () => `members: ${states.join(", ")}`,
      250,
    );
    for (const m of members) expect(probe(spec.mongoServingCheck().command, m)).toBe(0);
  });

  test("a member in RECOVERING is up but not serving, and serves again when it is back", async () => {
    const secondary = members[2];
    await asRoot(secondary, (c) => c.db("admin").command({ replSetMaintenance: true }));
    try {
      expect(probe(spec.mongoReadyCheck().command, secondary)).toBe(0);
      expect(probe(spec.mongoServingCheck().command, secondary)).toBe(1);
    } finally {
      await asRoot(secondary, (c) => c.db("admin").command({ replSetMaintenance: false }));
    }
    await waitUntil(async () => probe(spec.mongoServingCheck().command, secondary) === 0, 30_000, () => "member 3 never served again", 250);
  });

  test("a member that does not answer is neither up nor serving", async () => {
    const stopped = members[2];
    stopped.pause();
    try {
      expect(probe(spec.mongoReadyCheck().command, stopped)).not.toBe(0);
      expect(probe(spec.mongoServingCheck().command, stopped)).not.toBe(0);
    } finally {
      stopped.resume();
    }
  });
});
