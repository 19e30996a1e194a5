// Runs the compiled program (bin/, built by `npm test` with the project's tsconfig, the same
// CommonJS that Pulumi's TypeScript runtime produces) under Pulumi mocks, and records every
// resource it registers. The program is loaded with Node's own require, not through vitest's
// transform, so the dynamic providers are serialised exactly as `pulumi up` serialises them.
import * as crypto from "crypto";
import * as fs from "fs";
import { createRequire } from "module";
import * as path from "path";
import { fileURLToPath } from "url";
import YAML from "yaml";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const PROJECT = "trading-db-stack";
const nativeRequire = createRequire(path.join(ROOT, "package.json"));

/** Loads a module of the built program: requireBuilt("components/config.js"). */
export function requireBuilt<T = any>(modulePath: string): T {
  const file = path.join(ROOT, "bin", modulePath);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` (npm test does it first)`);
  return nativeRequire(file) as T;
}

/** The Pulumi SDK the program itself loads (one runtime per process). */
export const pulumi = nativeRequire("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
const settings = nativeRequire("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
const rpc = nativeRequire("@pulumi/pulumi/runtime/rpc") as { specialSigKey: string; specialSecretSig: string };

/** Whether a value the mock received was sent as a Pulumi secret. */
export function isSecretInput(value: unknown): boolean {
  return !!value && typeof value === "object" && (value as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig;
}

/** The value with Pulumi's secret wrappers removed, at any depth. */
export function plain(value: unknown): any {
  if (isSecretInput(value)) return plain((value as { value: unknown }).value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** Stack config as the CLI hands it to the program: Pulumi.yaml defaults, then Pulumi.<stack>.yaml, as strings. */
export function stackConfig(stack: string, overrides: Record<string, string> = {}): Record<string, string> {
  const project = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
  const config: Record<string, string> = {};
  for (const [key, schema] of Object.entries<{ default?: unknown }>(project.config ?? {})) {
    if (schema.default !== undefined) config[`${PROJECT}:${key}`] = String(schema.default);
  }
  const stackFile = path.join(ROOT, `Pulumi.${stack}.yaml`);
  const stackValues = YAML.parse(fs.readFileSync(stackFile, "utf8")).config ?? {};
  for (const [key, value] of Object.entries(stackValues)) config[key] = String(value);
  for (const [key, value] of Object.entries(overrides)) config[`${PROJECT}:${key}`] = value;
  return config;
}

export interface ResourceOptionsSeen {
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  /** Names of the resources this one depends on (explicitly or through its inputs). */
  dependsOn: string[];
  additionalSecretOutputs: string[];
  /** Inputs whose changes the engine ignores for a resource that exists. */
  ignoreChanges: string[];
  parent: string;
  /** create/update/delete timeouts as the engine receives them ("" when unset). */
  customTimeouts: { create: string; update: string; delete: string };
  /** The URN the engine gives the resource: its parents' type chain, its type and its name. */
  urn: string;
  /** The parent's URN ("" at the top). */
  parentUrn: string;
  /** The provider reference ("<provider URN>::<id>"); "" for the default provider. */
  provider: string;
  /** The aliases sent with the registration (alias specs, or full URNs). */
  aliases: AliasSent[];
}

/** One alias as the registration request carries it; unset fields default in the engine (see applyAliases in aliases.ts). */
export type AliasSent = { urn: string } | { name: string; type: string; parentUrn: string; noParent: boolean; stack: string; project: string };

export interface MockedResource {
  type: string;
  name: string;
  /** Inputs as the engine would receive them, secrets still wrapped (see isSecretInput / plain). */
  inputs: Record<string, any>;
  /** Options from the registration request the engine would receive. */
  options: ResourceOptionsSeen;
}

// The mocks callback sees no resource options, so read them off the registration request itself.
const optionsByName = new Map<string, ResourceOptionsSeen>();
const urnName = (urn: string) => urn.split("::").pop() ?? "";
const { MockMonitor } = nativeRequire("@pulumi/pulumi/runtime/mocks");
const registerResource = MockMonitor.prototype.registerResource;
// The mock monitor's URNs keep only the parent's own type; the engine's keep the whole chain
// (pkg/resource/urn.go NewURN). Map one to the other so tests see the URNs a real state holds.
const engineUrnByMockUrn = new Map<string, string>();
MockMonitor.prototype.registerResource = function (req: any, callback: unknown) {
  const mockUrn = this.newUrn(req.getParent(), req.getType(), req.getName());
  const urn = engineUrn(engineUrnByMockUrn.get(req.getParent()) ?? "", req.getType(), req.getName());
  engineUrnByMockUrn.set(mockUrn, urn);
  optionsByName.set(req.getName(), {
    retainOnDelete: req.getRetainondelete() === true,
    provider: req.getProvider(),
    deleteBeforeReplace: req.getDeletebeforereplace() === true,
    dependsOn: req.getDependenciesList().map(urnName),
    additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
    ignoreChanges: req.getIgnorechangesList(),
    parent: urnName(req.getParent()),
    customTimeouts: { create: req.getCustomtimeouts()?.getCreate() ?? "", update: req.getCustomtimeouts()?.getUpdate() ?? "", delete: req.getCustomtimeouts()?.getDelete() ?? "" },
    urn,
    parentUrn: engineUrnByMockUrn.get(req.getParent()) ?? "",
    aliases: req.getAliasesList().map((alias: any): AliasSent => {
      if (!alias.hasSpec()) return { urn: alias.getUrn() };
      const spec = alias.getSpec();
      const parentUrn = spec.getParenturn();
      return {
        name: spec.getName(),
        type: spec.getType(),
        parentUrn: parentUrn ? (engineUrnByMockUrn.get(parentUrn) ?? parentUrn) : "",
        noParent: spec.getNoparent(),
        stack: spec.getStack(),
        project: spec.getProject(),
      };
    }),
  });
  return registerResource.call(this, req, callback);
};

/** A URN as the engine makes it: `urn:pulumi:<stack>::<project>::<parent's type chain>$<type>::<name>`. */
export function engineUrn(parentUrn: string, type: string, name: string, stack = pulumi.getStack(), project = pulumi.getProject()): string {
  const parentChain = parentUrn ? parentUrn.split("::")[2] : "";
  const chain = parentChain && parentChain !== "pulumi:pulumi:Stack" ? `${parentChain}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${chain}::${name}`;
}

export interface ProgramRun {
  resources: MockedResource[];
  outputs: Record<string, { value: any; secret: boolean }>;
  byName(name: string): MockedResource;
  ofType(type: string): MockedResource[];
}

/** The `result` the mocks give the RandomPassword named `name`: deterministic, so tests can look for it. */
export function mockPassword(name: string, length: number): string {
  // Hashed: names share long prefixes (trading-secrets-postgres-…) and must still give distinct values.
  return `mock${crypto.createHash("sha256").update(name).digest("hex")}`.padEnd(length, "x").slice(0, length);
}

/** Outputs the engine would compute for a resource: just enough for the program to go on. */
function mockState(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  // What the InfluxDB hook would return: tokens InfluxDB generated (the program builds env maps from them).
  if (type === "pulumi-nodejs:dynamic/trading:InfluxdbInit") {
    return { ...inputs, operatorToken: pulumi.secret(inputs.adminToken), tokenValues: pulumi.secret({ read: "mock-read-token", write: "mock-write-token" }) };
  }
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      // Deterministic, and a secret as the engine makes it (the provider marks `result` secret).
      return { ...inputs, result: pulumi.secret(mockPassword(name, inputs.length ?? 32)) };
    case "docker:index/remoteImage:RemoteImage":
      return { ...inputs, imageId: `sha256:mock-${inputs.name}`, repoDigest: `${inputs.name}@sha256:mock` };
    // @pulumi/tls: PEM-shaped stand-ins named after the resource (the key a secret, as the provider marks it).
    case "tls:index/privateKey:PrivateKey":
      return { ...inputs, privateKeyPem: pulumi.secret(`-----BEGIN EC PRIVATE KEY-----\nmock ${name}\n-----END EC PRIVATE KEY-----\n`) };
    case "tls:index/certRequest:CertRequest":
      return { ...inputs, certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nmock ${name}\n-----END CERTIFICATE REQUEST-----\n` };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { ...inputs, certPem: `-----BEGIN CERTIFICATE-----\nmock ${name}\n-----END CERTIFICATE-----\n` };
    default:
      return { ...inputs };
  }
}

/**
 * Runs index.js for a stack under mocks and returns what it registered and exported. Runs follow
 * one another in a process (Pulumi's runtime is global); each loads the program afresh.
 */
/** What a resource becomes: its id and output state. The default gives mock values; test/support/engine realises it. */
export type Realise = (resource: MockedResource) => Promise<{ id: string; state: Record<string, unknown> }>;

export const mockRealise: Realise = async (r) => ({ id: `${r.name}-id`, state: mockState(r.type, r.name, plain(r.inputs)) });

/** The program: index.js, or a test's own composition of the built components (its exports are the outputs). */
export type Program = () => Record<string, unknown>;

export async function runProgram(
  stack: string,
  overrides: Record<string, string> = {},
  realise: Realise = mockRealise,
  program: Program = () => requireBuilt<Record<string, unknown>>("index.js"),
): Promise<ProgramRun> {
  const resources: MockedResource[] = [];
  pulumi.runtime.setAllConfig(stackConfig(stack, overrides));
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const resource = { type: args.type, name: args.name, inputs: args.inputs, options: optionsByName.get(args.name)! };
        resources.push(resource);
        return realise(resource);
      },
      call(args) {
        return args.inputs;
      },
    },
    PROJECT,
    stack,
    false,
  );
  for (const file of Object.keys(nativeRequire.cache)) if (file.startsWith(path.join(ROOT, "bin") + path.sep)) delete nativeRequire.cache[file];
  let exported: Record<string, unknown>;
  try {
    exported = program();
  } catch (error) {
    // Let a test see how far the program got before it failed.
    Object.assign(error as object, { resourcesRegistered: resources.map((r) => r.name) });
    throw error;
  }
  const outputs: ProgramRun["outputs"] = {};
  for (const [key, value] of Object.entries(exported)) outputs[key] = await resolve(value);
  // Every registration finishes before the run is over, as Pulumi's language host waits for them:
  // a resource no output depends on (the admin tools) may still be waiting for its dependencies.
  await settings.waitForRPCs();
  return {
    resources,
    outputs,
    byName(name) {
      const found = resources.find((r) => r.name === name);
      if (!found) throw new Error(`no resource named ${name}; have: ${resources.map((r) => r.name).join(", ")}`);
      return found;
    },
    ofType(type) {
      return resources.filter((r) => r.type === type);
    },
  };
}

/** Resolves an exported value (an Output, or a structure holding Outputs) and whether any part is secret. */
async function resolve(value: unknown): Promise<{ value: any; secret: boolean }> {
  const output = pulumi.output(value as any);
  const [resolved, secret] = await Promise.all([
    new Promise((r) => output.apply((v) => r(v))),
    (output as any).isSecret as Promise<boolean>,
  ]);
  return { value: resolved, secret };
}

export interface SerializedHook {
  /** The provider, loaded as the dynamic-provider host loads it: require-from-string, then handler(). */
  provider: any;
  /** The `__provider` text Pulumi serialised. */
  providerText: string;
  /** The inputs the program gave the resource, secrets unwrapped, without `__provider`. */
  inputs: Record<string, any>;
}

export function serializedHook(resource: MockedResource): SerializedHook {
  const { __provider: providerText, ...inputs } = plain(resource.inputs);
  if (typeof providerText !== "string" || providerText.length === 0) throw new Error(`${resource.name} has no serialised __provider`);
  const requireFromString = nativeRequire("require-from-string") as (code: string, filename?: string) => any;
  return { provider: requireFromString(providerText).handler(), providerText, inputs };
}

export interface GraphChange {
  added: string[];
  removed: string[];
  changed: string[];
}

function effectiveInputs(run: ProgramRun): Map<string, string> {
  return new Map(
    run.resources.map((r) => {
      const inputs = plain(r.inputs);
      for (const key of r.options.ignoreChanges) delete inputs[key];
      return [r.name, JSON.stringify(inputs)];
    }),
  );
}

/**
 * What `pulumi up` would do going from one run of the program to the next: resources added,
 * removed, and those whose effective inputs (less what the engine ignores) differ.
 */
export function graphChanges(before: ProgramRun, after: ProgramRun): GraphChange {
  const a = effectiveInputs(before);
  const b = effectiveInputs(after);
  return {
    added: [...b.keys()].filter((k) => !a.has(k)).sort(),
    removed: [...a.keys()].filter((k) => !b.has(k)).sort(),
    changed: [...b.keys()].filter((k) => a.has(k) && a.get(k) !== b.get(k)).sort(),
  };
}
