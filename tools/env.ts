// npm run env -- --consumer <advanced-trading-platform|trading-simulation> [--target host|network]
//                [--out <file>] [--from-json <file> | --stack <name>]
// Writes a dotenv file (mode 0600) with the consumer's variables from the stack's serviceEnv output.
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { CONSUMERS, type Consumer } from "../components/service-env";
import type { StackOutputs } from "../components/outputs";
import { readStackOutputs, ToolError } from "./stack-outputs";

const TARGETS = { host: "host", network: "inNetwork" } as const;

/**
 * One KEY='value' line per variable. Inside single quotes bash (`set -a; . file`) runs nothing and
 * expands nothing, and the dotenv package takes the text as it stands, so both read the exact
 * value. A single quote is the one character that cannot be carried that way for both (bash wants
 * '\'' and dotenv keeps the backslash), so a value holding one is refused, naming the variable;
 * the stack's passwords never hold one (components/config.ts refuses it in a password the user sets).
 */
export function formatDotenv(variables: Record<string, string>): string {
  const lines = Object.entries(variables).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ToolError(`variable name ${JSON.stringify(name)} is not a valid environment variable name`);
    if (value.includes("'") || /[\r\n]/.test(value)) {
      throw new ToolError(`${name}: its value holds a single quote or a line break, which a .env file cannot carry exactly for both bash and dotenv`);
    }
    return `${name}='${value}'`;
  });
  return `${lines.join("\n")}\n`;
}

/** Writes the file with mode 0600, replacing any earlier one atomically. */
export function writeSecretFile(file: string, content: string): void {
  const temporary = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(temporary, content, { mode: 0o600 });
  fs.chmodSync(temporary, 0o600); // whatever the umask
  fs.renameSync(temporary, file);
}

export function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      consumer: { type: "string" },
      target: { type: "string", default: "host" },
      out: { type: "string" },
      "from-json": { type: "string" },
      stack: { type: "string" },
    },
  });
  const consumer = values.consumer as Consumer | undefined;
  if (!consumer || !CONSUMERS.includes(consumer)) {
    throw new ToolError(`--consumer must be one of: ${CONSUMERS.join(", ")}; got ${JSON.stringify(values.consumer ?? "")}`);
  }
  const target = values.target as keyof typeof TARGETS;
  if (!(target in TARGETS)) throw new ToolError(`--target must be host (processes on this machine) or network (containers on the stack's network, or pods in its cluster); got ${JSON.stringify(target)}`);
  const outputs = readStackOutputs({ fromJson: values["from-json"], stack: values.stack }, ["serviceEnv"]);
  const { serviceEnv } = outputs;
  // Stacks made before the Kubernetes engine have no `kubernetes` output: Docker.
  const kubernetes = (outputs as Partial<StackOutputs>).kubernetes ?? null;
  const variables = serviceEnv[TARGETS[target]]?.[consumer];
  if (!variables || Object.keys(variables).length === 0) throw new ToolError(`serviceEnv has no variables for ${consumer} (${target})`);
  const out = values.out ?? `.env.${consumer}`;
  writeSecretFile(out, formatDotenv(variables));
  process.stderr.write(`wrote ${Object.keys(variables).length} variables for ${consumer} (${target}) to ${out} (mode 0600)\n`);
  if (kubernetes && target === "host") {
    process.stderr.write(`the stack runs on Kubernetes (namespace ${kubernetes.namespace}): these 127.0.0.1 ports answer while \`npm run forward\` runs\n`);
  }
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`npm run env: ${(error as Error).message}\n`);
    process.exit(error instanceof ToolError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? 2 : 1);
  }
}
