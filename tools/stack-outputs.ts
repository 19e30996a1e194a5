// Reads a stack's outputs for the command-line tools: from `pulumi stack output --json
// --show-secrets`, or from a JSON file holding what that command prints (--from-json).
import { spawnSync } from "child_process";
import * as fs from "fs";
import type { StackOutputs } from "../components/outputs";

export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolError";
  }
}

export interface OutputsSource {
  /** A JSON file with the output of `pulumi stack output --json --show-secrets`. */
  fromJson?: string;
  /** The Pulumi stack to ask (else the selected one). */
  stack?: string;
}

export function readStackOutputs<K extends keyof StackOutputs>(source: OutputsSource, needed: K[]): Pick<StackOutputs, K> {
  let text: string;
  let where: string;
  if (source.fromJson) {
    where = source.fromJson;
    if (!fs.existsSync(source.fromJson)) throw new ToolError(`--from-json ${source.fromJson}: file not found`);
    text = fs.readFileSync(source.fromJson, "utf8");
  } else {
    const args = ["stack", "output", "--json", "--show-secrets", ...(source.stack ? ["--stack", source.stack] : [])];
    where = `pulumi ${args.join(" ")}`;
    const result = spawnSync("pulumi", args, { encoding: "utf8" });
    if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ToolError("the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/), or pass --from-json <file> with the output of `pulumi stack output --json --show-secrets`");
    }
    if (result.status !== 0) throw new ToolError(`${where} failed (exit ${result.status}): ${result.stderr.trim()}`);
    text = result.stdout;
  }
  let outputs: Record<string, unknown>;
  try {
    outputs = JSON.parse(text);
  } catch (error) {
    throw new ToolError(`${where}: not JSON (${(error as Error).message})`);
  }
  if (typeof outputs !== "object" || outputs === null || Array.isArray(outputs)) throw new ToolError(`${where}: expected a JSON object of stack outputs`);
  for (const name of needed) {
    if (!(name in outputs)) {
      throw new ToolError(`${where}: output "${String(name)}" is missing; is this the output of a trading-db-stack stack (pulumi stack output --json --show-secrets)?`);
    }
    if (JSON.stringify(outputs[name]).includes('"[secret]"')) {
      throw new ToolError(`${where}: output "${String(name)}" is hidden as [secret]; add --show-secrets`);
    }
  }
  return outputs as unknown as Pick<StackOutputs, K>;
}
