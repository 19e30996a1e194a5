// Bad configuration stops the real program before it registers a single resource.
import { expect, test } from "vitest";
import { runProgram } from "../support/pulumi";

test("the dev program with a negative replica count and a clashing port fails before any resource exists", async () => {
  const failure = await runProgram("dev", { postgresReplicas: "-1", postgresReplicaFirstPort: "5432" }).then(
    () => undefined,
    (error: Error & { resourcesRegistered?: string[] }) => error,
  );
  expect(failure?.message).toMatch(/trading-db-stack:postgresReplicas: must be a whole number from 0 to 5; got "-1"/);
  expect(failure?.resourcesRegistered).toEqual([]);
});

test("a typo of a key (set with pulumi config set) stops the program, naming the key it meant", async () => {
  // runProgram sets the config with pulumi.runtime.setAllConfig; index.ts reads every key back with allConfig().
  const failure = await runProgram("dev", { postgresReplica: "2" }).then(
    () => undefined,
    (error: Error & { resourcesRegistered?: string[] }) => error,
  );
  expect(failure?.message).toContain("trading-db-stack:postgresReplica: is not a setting of this stack, so it would be ignored; did you mean `postgresReplicas`?");
  expect(failure?.resourcesRegistered).toEqual([]);
});
