// Runs a built command-line tool (bin/tools/<name>.js) as `npm run <name>` does, to its exit.
// Asynchronously: the tests' own servers (the port-forward server) live in the calling process.
import { spawn } from "child_process";
import * as path from "path";
import { ROOT } from "./pulumi";

export interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(name: string, args: string[]): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, `bin/tools/${name}.js`), ...args], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("exit", (status) => resolve({ status, stdout, stderr }));
  });
}
