// A small stand-in for `pulumi up` / `pulumi destroy` on a real Docker daemon. The program runs
// under Pulumi mocks, as in the unit tests, but each resource it registers is realised for real as
// it registers, so Pulumi's own runtime keeps the order (dependsOn, inputs that wait for outputs)
// and parallelism of a real `up`:
// - Docker networks, volumes and containers as @pulumi/docker 5 (terraform-provider-docker) does it:
//   create on the default bridge, disconnect it, connect each network with its aliases, upload each
//   file as a tar (0644, 0744 when executable, or `permissions`; root's, or `owner`/`group`), start, poll health every second
//   until healthy or `waitTimeout`; replace when an input changes that the provider cannot update
//   in place, delete-first; update in place what it can (and, like the provider, drop a healthcheck
//   change: kreuzwerker/terraform-provider-docker#988);
// - hooks through their serialised provider (__provider), with create/diff/update/delete as the
//   dynamic-provider host calls them; delete runs the code serialised with the old state;
// - RandomPassword as @pulumi/random makes it: new on create, kept in the state afterwards.
// Every container input the program sets is mapped; an input this layer does not know fails the
// test naming it. The state lives in this object, as Pulumi's state lives in its backend.
import * as crypto from "crypto";
import { createRequire } from "module";
import * as path from "path";
import Docker from "dockerode";
import { pack } from "tar-stream";
import { mockRealise, plain, pulumi, ROOT, runProgram, type MockedResource, type ProgramRun } from "../pulumi";
import { realiseTlsResource } from "../tls";

const nativeRequire = createRequire(path.join(ROOT, "package.json"));

export type Operation = "create" | "update" | "replace" | "delete" | "same";

export interface OperationRecord {
  name: string;
  type: string;
  operation: Operation;
  /** Which inputs differed (update, replace). */
  changed?: string[];
  ms: number;
}

interface StateEntry {
  type: string;
  name: string;
  id: string;
  /** Plain inputs as registered, without ignored ones. */
  inputs: Record<string, any>;
  outputs: Record<string, any>;
  retainOnDelete: boolean;
  /** Order of creation: deletes go newest first, as dependents are newer than what they use. */
  seq: number;
}

export interface UpResult {
  run: ProgramRun;
  operations: OperationRecord[];
  /** The stack outputs, secrets unwrapped. */
  outputs: Record<string, any>;
  ms: number;
}

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";
const NETWORK = "docker:index/network:Network";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const PASSWORD = "random:index/randomPassword:RandomPassword";
const DYNAMIC = "pulumi-nodejs:dynamic/";

/** Container inputs the provider changes in place (resource_docker_container.go: not ForceNew). */
const CONTAINER_UPDATABLE = new Set(["restart", "memory", "destroyGraceSeconds", "wait", "waitTimeout", "healthcheck"]);
/** Every container input this layer realises. */
const CONTAINER_MAPPED = new Set([
  "name", "image", "entrypoints", "command", "envs", "uploads", "volumes", "ports", "networksAdvanced", "healthcheck",
  "restart", "memory", "cpus", "shmSize", "labels", "destroyGraceSeconds", "wait", "waitTimeout",
  "user", "capabilities", "securityOpts", "tmpfs",
]);

export class DockerEngine {
  readonly docker: Docker;
  private readonly state = new Map<string, StateEntry>();
  private seq = 0;
  private operations: OperationRecord[] = [];
  private errors: Error[] = [];

  constructor(docker = new Docker()) {
    this.docker = docker;
  }

  /**
   * `pulumi up` of a stack with config overrides: realise what the program declares, delete what it
   * no longer does. `refresh` first forgets containers and volumes that are gone from the daemon
   * (`pulumi up --refresh`).
   */
  async up(stack: string, overrides: Record<string, string> = {}, options: { refresh?: boolean } = {}): Promise<UpResult> {
    const started = Date.now();
    this.operations = [];
    this.errors = [];
    if (options.refresh) await this.refresh();
    const declared = new Set<string>();
    let run: ProgramRun;
    try {
      run = await runProgram(stack, overrides, async (resource) => {
        declared.add(resource.name);
        try {
          return await this.register(resource);
        } catch (error) {
          this.errors.push(new Error(`${resource.name}: ${(error as Error).message}`, { cause: error }));
          throw error;
        }
      });
    } catch (error) {
      throw this.errors[0] ?? error;
    }
    if (this.errors.length > 0) throw this.errors[0];
    for (const entry of this.entriesNewestFirst().filter((e) => !declared.has(e.name))) await this.remove(entry);
    const outputs = Object.fromEntries(Object.entries(run.outputs).map(([key, output]) => [key, output.value]));
    return { run, operations: this.operations, outputs, ms: Date.now() - started };
  }

  /** `pulumi destroy`: everything, newest first; volumes with retainOnDelete stay on the daemon. */
  async destroy(): Promise<OperationRecord[]> {
    this.operations = [];
    for (const entry of this.entriesNewestFirst()) await this.remove(entry);
    return this.operations;
  }

  /** The id (container id, volume name...) of a realised resource. */
  idOf(name: string): string {
    const entry = this.state.get(name);
    if (!entry) throw new Error(`no resource ${name} in the state`);
    return entry.id;
  }

  private entriesNewestFirst(): StateEntry[] {
    return [...this.state.values()].sort((a, b) => b.seq - a.seq);
  }

  private record(name: string, type: string, operation: Operation, started: number, changed?: string[]): void {
    this.operations.push({ name, type, operation, ms: Date.now() - started, ...(changed ? { changed } : {}) });
  }

  private async refresh(): Promise<void> {
    for (const entry of [...this.state.values()]) {
      const exists =
        entry.type === CONTAINER
          ? await this.docker.getContainer(entry.id).inspect().then(() => true, () => false)
          : entry.type === VOLUME
            ? await this.docker.getVolume(entry.id).inspect().then(() => true, () => false)
            : true;
      if (!exists) this.state.delete(entry.name);
    }
  }

  private async register(resource: MockedResource): Promise<{ id: string; state: Record<string, unknown> }> {
    const started = Date.now();
    const inputs = plain(resource.inputs) as Record<string, any>;
    for (const key of resource.options.ignoreChanges) if (this.state.has(resource.name)) inputs[key] = this.state.get(resource.name)!.inputs[key];
    const old = this.state.get(resource.name);
    const { type, name } = resource;
    const keep = (entry: StateEntry) => ({ id: entry.id, state: entry.outputs });

    // Component resources have nothing to realise.
    if (!isRealised(type)) return mockRealise(resource);

    if (type.startsWith(DYNAMIC)) return this.registerHook(resource, inputs, old, started);

    const changed = old ? changedKeys(old.inputs, inputs) : [];
    if (old && changed.length === 0) {
      // Resource options such as retainOnDelete change in the state only, as in Pulumi.
      old.retainOnDelete = resource.options.retainOnDelete;
      this.record(name, type, "same", started);
      return keep(old);
    }
    if (old && type === CONTAINER && changed.every((k) => CONTAINER_UPDATABLE.has(k))) {
      await this.updateContainer(old.id, inputs, changed);
      const entry = { ...old, inputs };
      this.state.set(name, entry);
      this.record(name, type, "update", started, changed);
      return keep(entry);
    }
    // Everything else is replaced; the stack's containers replace delete-first (fixed names and ports).
    if (old) await this.removePhysical(old);
    const { id, outputs } = await this.create(type, inputs, resource).catch((error: Error & { createdId?: string }) => {
      // Created but never healthy: kept in the state, as Pulumi keeps a resource that failed to initialise, so destroy removes it.
      if (error.createdId) this.state.set(name, { type, name, id: error.createdId, inputs, outputs: inputs, retainOnDelete: resource.options.retainOnDelete, seq: this.seq++ });
      throw error;
    });
    const entry: StateEntry = { type, name, id, inputs, outputs, retainOnDelete: resource.options.retainOnDelete, seq: this.seq++ };
    this.state.set(name, entry);
    this.record(name, type, old ? "replace" : "create", started, old ? changed : undefined);
    return keep(entry);
  }

  private async registerHook(resource: MockedResource, inputs: Record<string, any>, old: StateEntry | undefined, started: number) {
    const { type, name } = resource;
    const provider = loadProvider(inputs.__provider, name);
    const save = (id: string, outs: Record<string, any>, operation: Operation, changed?: string[]) => {
      // The dynamic-provider host keeps the serialised provider in the outputs: delete runs that code.
      const outputs = { ...outs, __provider: inputs.__provider };
      const entry: StateEntry = { type, name, id, inputs, outputs, retainOnDelete: false, seq: old && operation !== "replace" ? old.seq : this.seq++ };
      this.state.set(name, entry);
      this.record(name, type, operation, started, changed);
      return { id, state: outputs };
    };
    if (!old) {
      const { id, outs } = await provider.create(inputs);
      return save(id, outs, "create");
    }
    const diff = await provider.diff(old.id, old.outputs, inputs);
    const changed = changedKeys(old.inputs, inputs);
    if (!diff.changes) {
      this.state.set(name, { ...old, inputs });
      this.record(name, type, "same", started);
      return { id: old.id, state: old.outputs };
    }
    if ((diff.replaces ?? []).length > 0) {
      await loadProvider(old.outputs.__provider, name).delete(old.id, old.outputs);
      const { id, outs } = await provider.create(inputs);
      return save(id, outs, "replace", changed);
    }
    const { outs } = await provider.update(old.id, old.outputs, inputs);
    return save(old.id, outs, "update", changed);
  }

  private async create(type: string, inputs: Record<string, any>, resource: MockedResource): Promise<{ id: string; outputs: Record<string, any> }> {
    switch (type) {
      case PASSWORD: {
        const result = randomPassword(inputs as { length: number });
        return { id: "none", outputs: { ...inputs, result: pulumi.secret(result) } };
      }
      case IMAGE: {
        const image = await this.docker.getImage(inputs.name).inspect().catch(() => {
          throw new Error(`image ${inputs.name} is not on the daemon; the engine tests build their stand-in images first (test/support/engine/images.ts)`);
        });
        return { id: image.Id, outputs: { ...inputs, imageId: image.Id, repoDigest: `${inputs.name}@${image.Id}` } };
      }
      case NETWORK: {
        const network = await this.docker.createNetwork({
          Name: inputs.name,
          Driver: inputs.driver,
          Internal: inputs.internal === true,
          Attachable: inputs.attachable === true,
          Labels: labelMap(inputs.labels),
          CheckDuplicate: true,
        });
        return { id: network.id, outputs: { ...inputs } };
      }
      case VOLUME: {
        // Creating a volume that exists returns it: a volume retained by an earlier destroy is reused.
        await this.docker.createVolume({ Name: inputs.name, Labels: labelMap(inputs.labels) });
        return { id: inputs.name, outputs: { ...inputs } };
      }
      case CONTAINER: {
        const id = await this.createContainer(inputs, resource.name);
        return { id, outputs: { ...inputs } };
      }
      default:
        // @pulumi/tls: keys and certificates made with openssl, the key a secret as the provider marks it.
        if (type.startsWith("tls:")) {
          const outputs = realiseTlsResource(type, inputs);
          return { id: resource.name, outputs: { ...inputs, ...outputs, ...(outputs.privateKeyPem ? { privateKeyPem: pulumi.secret(outputs.privateKeyPem as string) } : {}) } };
        }
        throw new Error(`resource type ${type} is not realised by test/support/engine/docker-engine.ts`);
    }
  }

  private async createContainer(inputs: Record<string, any>, resourceName: string): Promise<string> {
    const unmapped = Object.keys(inputs).filter((k) => inputs[k] !== undefined && !CONTAINER_MAPPED.has(k));
    if (unmapped.length > 0) throw new Error(`container ${resourceName}: inputs not realised by the engine layer: ${unmapped.join(", ")}`);
    const ports: Array<{ internal: number; external: number; ip: string; protocol?: string }> = inputs.ports ?? [];
    const portKey = (p: { internal: number; protocol?: string }) => `${p.internal}/${p.protocol ?? "tcp"}`;
    const health = inputs.healthcheck;
    const container = await this.docker.createContainer({
      name: inputs.name,
      Image: inputs.image,
      Entrypoint: inputs.entrypoints,
      Cmd: inputs.command,
      Env: inputs.envs,
      User: inputs.user,
      Labels: labelMap(inputs.labels),
      ExposedPorts: Object.fromEntries(ports.map((p) => [portKey(p), {}])),
      Healthcheck: health && {
        Test: health.tests,
        Interval: nanoseconds(health.interval),
        Timeout: nanoseconds(health.timeout),
        StartPeriod: nanoseconds(health.startPeriod),
        // Sent as the provider sends it; engines before API 1.44 ignore it.
        StartInterval: nanoseconds(health.startInterval),
        Retries: health.retries,
      },
      HostConfig: {
        RestartPolicy: { Name: inputs.restart ?? "no" },
        Binds: (inputs.volumes ?? []).map((v: { volumeName: string; containerPath: string; readOnly?: boolean }) => `${v.volumeName}:${v.containerPath}${v.readOnly ? ":ro" : ""}`),
        PortBindings: Object.fromEntries(ports.map((p) => [portKey(p), [{ HostIp: p.ip, HostPort: String(p.external) }]])),
        Memory: inputs.memory ? inputs.memory * 1024 * 1024 : undefined,
        ShmSize: inputs.shmSize ? inputs.shmSize * 1024 * 1024 : undefined,
        NanoCpus: inputs.cpus ? Math.round(Number(inputs.cpus) * 1e9) : undefined,
        CapAdd: inputs.capabilities?.adds,
        CapDrop: inputs.capabilities?.drops,
        SecurityOpt: inputs.securityOpts,
        Tmpfs: inputs.tmpfs,
        Init: false,
      },
    });
    await this.docker.getNetwork("bridge").disconnect({ Container: container.id }).catch(() => undefined);
    for (const network of inputs.networksAdvanced ?? []) {
      await this.docker.getNetwork(network.name).connect({ Container: container.id, EndpointConfig: { Aliases: network.aliases ?? [] } });
    }
    for (const upload of inputs.uploads ?? []) await container.putArchive(await tarOf(upload), { path: "/" });
    try {
      await container.start();
      if (inputs.wait) await this.waitHealthy(container, inputs.name, inputs.waitTimeout ?? 60);
    } catch (error) {
      throw Object.assign(error as Error, { createdId: container.id });
    }
    return container.id;
  }

  /** As the provider: inspect, and again every second, until healthy or the wait timeout. */
  private async waitHealthy(container: Docker.Container, name: string, timeoutSeconds: number): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      const info = await container.inspect();
      if (!info.State.Health) throw new Error(`container ${name} has wait but no healthcheck`);
      if (info.State.Health.Status === "healthy") return;
      if (Date.now() > deadline) {
        const logs = (await container.logs({ stdout: true, stderr: true, tail: 40 })).toString("utf8");
        const probes = (info.State.Health.Log ?? []).map((l) => `exit ${l.ExitCode}: ${l.Output.trim()}`).join("\n");
        throw new Error(`container ${name} failed to be in healthy state within ${timeoutSeconds}s (state ${info.State.Status}, health ${info.State.Health.Status})\nprobes:\n${probes}\nlogs:\n${logs}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  private async updateContainer(id: string, inputs: Record<string, any>, changed: string[]): Promise<void> {
    // What the provider's update does: restart policy and memory through ContainerUpdate; nothing else.
    if (changed.includes("restart") || changed.includes("memory")) {
      const memory = inputs.memory ? { Memory: inputs.memory * 1024 * 1024, MemorySwap: -1 } : {};
      await this.docker.getContainer(id).update({ RestartPolicy: { Name: inputs.restart }, ...memory });
    }
  }

  private async remove(entry: StateEntry): Promise<void> {
    const started = Date.now();
    if (entry.type.startsWith(DYNAMIC)) await loadProvider(entry.outputs.__provider, entry.name).delete(entry.id, entry.outputs);
    else await this.removePhysical(entry);
    this.state.delete(entry.name);
    this.record(entry.name, entry.type, "delete", started);
  }

  private async removePhysical(entry: StateEntry): Promise<void> {
    const ignoreMissing = (error: { statusCode?: number }) => {
      if (error.statusCode !== 404) throw error;
    };
    switch (entry.type) {
      case CONTAINER: {
        const container = this.docker.getContainer(entry.id);
        await container.stop({ t: entry.inputs.destroyGraceSeconds ?? 0 }).catch((e) => {
          if (e.statusCode !== 304) ignoreMissing(e);
        });
        await container.remove({ force: true }).catch(ignoreMissing);
        return;
      }
      case VOLUME:
        if (!entry.retainOnDelete) await this.docker.getVolume(entry.id).remove().catch(ignoreMissing);
        return;
      case NETWORK:
        await this.docker.getNetwork(entry.id).remove().catch(ignoreMissing);
        return;
      default:
        return; // images are kept (keepLocally), passwords live in the state only
    }
  }
}

function isRealised(type: string): boolean {
  return type.startsWith("docker:") || type.startsWith("random:") || type.startsWith("tls:") || type.startsWith(DYNAMIC);
}

function loadProvider(text: unknown, name: string): any {
  if (typeof text !== "string") throw new Error(`${name} has no serialised provider`);
  const requireFromString = nativeRequire("require-from-string") as (code: string) => any;
  return requireFromString(text).handler();
}

/** The inputs that differ between two input sets (the serialised provider aside: its version input stands for it). */
export function changedKeys(before: Record<string, any>, after: Record<string, any>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => k !== "__provider" && JSON.stringify(before[k]) !== JSON.stringify(after[k])).sort();
}

function labelMap(labels: Array<{ label: string; value: string }> | undefined): Record<string, string> {
  return Object.fromEntries((labels ?? []).map((l) => [l.label, l.value]));
}

/** Go's duration strings as the provider parses them ("1s", "300s", "1m30s", "250ms"). */
export function nanoseconds(duration: string | undefined): number | undefined {
  if (!duration) return undefined;
  const units: Record<string, number> = { h: 3600e9, m: 60e9, s: 1e9, ms: 1e6, us: 1e3, ns: 1 };
  let total = 0;
  const pattern = /(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g;
  let matched = "";
  for (let m = pattern.exec(duration); m; m = pattern.exec(duration)) {
    total += Number(m[1]) * units[m[2]];
    matched += m[0];
  }
  if (matched !== duration) throw new Error(`duration "${duration}" is not a Go duration`);
  return Math.round(total);
}

/** One upload as the provider sends it: a tar of the absolute path, root-owned, with its mode. */
async function tarOf(upload: { file: string; content?: string; contentBase64?: string; executable?: boolean; permissions?: string; owner?: string; group?: string }): Promise<Buffer> {
  const content = upload.content !== undefined ? Buffer.from(upload.content, "utf8") : Buffer.from(upload.contentBase64 ?? "", "base64");
  const mode = upload.permissions ? parseInt(upload.permissions, 8) : upload.executable ? 0o744 : 0o644;
  // Numeric owner and group as given (the provider resolves names on its host; the stack gives ids).
  const id = (value: string | undefined, what: string) => {
    if (value === undefined) return 0;
    if (!/^\d+$/.test(value)) throw new Error(`upload ${upload.file}: ${what} ${value} is not a numeric id`);
    return Number(value);
  };
  const tar = pack();
  tar.entry({ name: upload.file, mode, size: content.length, mtime: new Date(), uid: id(upload.owner, "owner"), gid: id(upload.group, "group") }, content);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** @pulumi/random's RandomPassword with special false: letters and digits, honouring the minimums. */
function randomPassword(inputs: { length: number; minLower?: number; minUpper?: number; minNumeric?: number }): string {
  const sets = { lower: "abcdefghijklmnopqrstuvwxyz", upper: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", numeric: "0123456789" };
  const pick = (set: string) => set[crypto.randomInt(set.length)];
  const chars = [
    ...Array.from({ length: inputs.minLower ?? 0 }, () => pick(sets.lower)),
    ...Array.from({ length: inputs.minUpper ?? 0 }, () => pick(sets.upper)),
    ...Array.from({ length: inputs.minNumeric ?? 0 }, () => pick(sets.numeric)),
  ];
  const all = sets.lower + sets.upper + sets.numeric;
  while (chars.length < inputs.length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}
