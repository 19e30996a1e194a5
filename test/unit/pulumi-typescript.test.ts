// `pulumi up` does not run bin/: Pulumi's nodejs runtime compiles index.ts with ts-node, using its
// own compiler options overlaid by tsconfig.json. This runs that same registration (Pulumi's
// tsutils picks ts-node and typescript) and loads the program's modules through it, type checks on.
import { spawnSync } from "child_process";
import { expect, test } from "vitest";
import { ROOT } from "../support/pulumi";

test("the program's TypeScript loads through ts-node with the options `pulumi up` uses", () => {
  const script = `
    const tsutils = require("./node_modules/@pulumi/pulumi/tsutils.js");
    const compilerOptions = tsutils.loadTypeScriptCompilerOptions("tsconfig.json");
    const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
    // As in @pulumi/pulumi cmd/run/run.js for a CommonJS project with TypeScript >= 4.7.
    require(tsnodeRequire).register({
      compiler: typescriptRequire,
      project: "tsconfig.json",
      compilerOptions: { target: "ES2020", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true", ...compilerOptions },
    });
    const plan = require("./components/stack.ts").loadStackPlan(() => undefined);
    console.log(JSON.stringify({ typescript: require(typescriptRequire).version, image: plan.config.postgres.image, databases: plan.postgresScripts.map((s) => s.database) }));
  `;
  const result = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8" });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  const loaded = JSON.parse(result.stdout);
  expect(loaded.typescript).toMatch(/^[3-6]\./); // @pulumi/pulumi's peer range: typescript < 7
  expect(loaded).toMatchObject({ image: "postgres:18.7", databases: ["trading_platform", "trading_results"] });
});
