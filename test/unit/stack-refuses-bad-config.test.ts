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
