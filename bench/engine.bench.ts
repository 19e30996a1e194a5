// npm run bench, part 2: the dev stack on the real Docker daemon (test/support/engine), with the
// stand-in images already built: `pulumi up` from nothing until every hook has run, and the no-op
// re-run of an unchanged stack. Goals (issue 9): up under 30 s on a 2-core machine, re-run under
// 2 s. Also the slowest operations of each up, the path that decides its time. A benchmark, not
// a timed test: nothing here fails on a number. Runs: BENCH_ENGINE_RUNS (default 3).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Docker from "dockerode";
import { test } from "vitest";
import { median } from "./report";
import { DockerEngine, type OperationRecord } from "../test/support/engine/docker-engine";
import { DEV_STACK, devStackOverrides, removeLeftovers } from "../test/support/engine/dev-stack";
import { ROOT } from "../test/support/pulumi";

const RUNS = Number(process.env.BENCH_ENGINE_RUNS ?? 3);
const PREFIX = "enginebench";

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

test("bench: the dev stack on the Docker daemon, up from nothing and a no-op re-run", async () => {
  const docker = new Docker();
  const overrides = await devStackOverrides(docker, PREFIX);
  await removeLeftovers(docker, PREFIX);
  const ups: number[] = [];
  const reruns: number[] = [];
  let slowest: OperationRecord[] = [];
  for (let run = 0; run < RUNS; run++) {
    const engine = new DockerEngine(docker);
    try {
      const up = await engine.up(DEV_STACK, overrides);
      ups.push(up.ms);
      if (run === 0) slowest = [...up.operations].sort((a, b) => b.ms - a.ms).slice(0, 8);
      const again = await engine.up(DEV_STACK, overrides);
      if (again.operations.some((o) => o.operation !== "same")) throw new Error("the re-run changed something: not a no-op");
      reruns.push(again.ms);
    } finally {
      await engine.destroy();
      await removeLeftovers(docker, PREFIX);
    }
  }
  const lines = [
    `dev stack on dockerd (every component; stand-in images), ${RUNS} runs`,
    `  up from nothing to every hook applied: median ${seconds(median(ups))} (min ${seconds(Math.min(...ups))}, max ${seconds(Math.max(...ups))}); goal under 30 s`,
    `  no-op re-run:                         median ${seconds(median(reruns))} (min ${seconds(Math.min(...reruns))}, max ${seconds(Math.max(...reruns))}); goal under 2 s`,
    "  slowest operations of the first up (they overlap where Pulumi runs them in parallel):",
    ...slowest.map((o) => `    ${seconds(o.ms).padStart(8)}  ${o.operation} ${o.name}`),
    `${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`,
  ];
  const report = `\n${lines.join("\n")}\n`;
  process.stdout.write(report);
  fs.mkdirSync(path.join(ROOT, "bin"), { recursive: true });
  fs.writeFileSync(path.join(ROOT, "bin/bench-engine.json"), JSON.stringify({ ups, reruns, slowest }, null, 2));
  fs.writeFileSync(path.join(ROOT, "bin/bench-engine.txt"), report);
});
