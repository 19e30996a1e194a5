// A PostgreSQL major change on Docker is refused before anything is replaced (init/postgres/major.ts):
// the guard's check, as Pulumi runs it in the preview, from the provider it serialised for the dev stack.
import { beforeAll, describe, expect, test } from "vitest";
import { plain, runProgram, serializedHook, type ProgramRun, type SerializedHook } from "../support/pulumi";

let run: ProgramRun;
let guard: SerializedHook;

beforeAll(async () => {
  run = await runProgram("dev");
  guard = serializedHook(run.byName("trading-postgres-data-major"));
});

describe("the PostgreSQL major guard (Docker)", () => {
  test("records the major the primary's data is in; the primary waits for it", () => {
    expect(guard.inputs).toMatchObject({ majorVersion: 18, image: "postgres:18.7", volume: "trading_postgres_data" });
    expect(run.byName("trading-postgres-primary").options.dependsOn).toContain("trading-postgres-data-major");
  });

  test("a new stack, a patch release, or the same image pass", async () => {
    expect((await guard.provider.check({}, guard.inputs)).failures).toEqual([]);
    expect((await guard.provider.check(guard.inputs, { ...guard.inputs, image: "postgres:18.8" })).failures).toEqual([]);
    expect((await guard.provider.check(guard.inputs, guard.inputs)).failures).toEqual([]);
  });

  test("another major is refused in the preview, naming both majors, the volume and the ways forward", async () => {
    const up = await runProgram("dev", { postgresImage: "postgres:19.1" });
    const news = plain(up.byName("trading-postgres-data-major").inputs);
    const { failures } = await guard.provider.check(guard.inputs, news);
    expect(failures).toEqual([
      {
        property: "majorVersion",
        reason: expect.stringMatching(
          /^postgresImage postgres:19\.1 is PostgreSQL 19, and the data in volume trading_postgres_data is PostgreSQL 18: the new server would start an empty cluster beside it\. Nothing was changed\. Set postgresImage back to a 18\.x tag \(postgres:18\.7\), or move the data .*PostgreSQL major on Docker/,
        ),
      },
    ]);
    const down = await guard.provider.check(news, guard.inputs);
    expect(down.failures[0].reason).toMatch(/postgresImage postgres:18\.7 is PostgreSQL 18, and the data .* is PostgreSQL 19: the new server cannot read data of a newer major/);
  });

  test("on Kubernetes there is no guard: the operator upgrades a major in place", async () => {
    const prod = await runProgram("prod");
    expect(prod.resources.filter((r) => r.name.endsWith("data-major"))).toEqual([]);
  });
});
