// Runs the pods the Kubernetes realisation declares as containers on the test's Docker daemon, the
// way a kubelet would start them: the pod template's image, command, args, env, resources and
// securityContext (runAsUser/runAsGroup, fsGroup as a supplementary group, no_new_privs when
// privilege escalation is off, the capabilities dropped and added, a read-only root filesystem
// when it says so); its volume claims as folders
// owned root:<fsGroup> 2775; ConfigMap and Secret items as files with their modes, group
// <fsGroup>, bind-mounted at their subPaths; emptyDirs as root:<fsGroup> 2777 folders; a
// memory-backed /dev/shm. On one network each pod answers to the DNS names the cluster would give
// it (pod, headless and client Service names). Probes are run with `docker exec` as the pod's user.
// What this cannot show: the scheduler, the kubelet's own volume handling and the API server.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Docker from "dockerode";
import { plain, type MockedResource, type ProgramRun } from "../pulumi";

export interface RunningPod {
  name: string;
  container: Docker.Container;
  /** Where the pod's container port is published on 127.0.0.1. */
  hostPort: number;
  containerPort: number;
  user: string;
}

const MEBI = 1024 * 1024;

export class PodRunner {
  readonly pods = new Map<string, RunningPod>();
  private readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-pods-"));

  constructor(
    private readonly docker: Docker,
    private run: ProgramRun,
    private readonly network: string,
    private readonly prefix: string,
  ) {}

  /** The objects of another run of the program (a new stack), on the same claims. */
  useProgram(run: ProgramRun): void {
    this.run = run;
  }

  object(kind: string, name: string): any {
    const found = this.run.resources.find((r: MockedResource) => r.type.endsWith(`:${kind}`) && plain(r.inputs).metadata?.name === name);
    if (!found) throw new Error(`the program declares no ${kind} ${name}`);
    return plain(found.inputs);
  }

  /** DNS names of a workload's pod i: pod name, the pod's headless name, every client Service selecting it. */
  private names(sts: any, i: number): string[] {
    const ns = sts.metadata.namespace;
    const domain = this.domain(sts);
    const pod = `${sts.metadata.name}-${i}`;
    const labels = sts.spec.template.metadata.labels;
    const services = this.run.resources
      .filter((r) => r.type === "kubernetes:core/v1:Service")
      .map((r) => plain(r.inputs))
      .filter((s) => Object.entries(s.spec.selector ?? {}).every(([k, v]) => labels[k] === v));
    const serviceNames = services.flatMap((s) => (s.spec.clusterIP === "None" ? [`${pod}.${s.metadata.name}.${ns}.svc.${domain}`] : [s.metadata.name, `${s.metadata.name}.${ns}.svc.${domain}`]));
    return [pod, ...serviceNames];
  }

  private domain(sts: any): string {
    const env = JSON.stringify(this.run.outputs.serviceEnv?.value ?? {});
    const match = env.match(new RegExp(`\\.${sts.metadata.namespace}\\.svc\\.([a-z0-9.-]+?)[:"/]`));
    return match ? match[1] : "cluster.local";
  }

  /**
   * Starts pod `i` of StatefulSet `name` (or the one pod of Deployment `name`, named `<name>-<i>`)
   * and waits until its startup and readiness probes pass.
   */
  async start(name: string, i: number, kind: "StatefulSet" | "Deployment" = "StatefulSet", timeoutMs = 120_000): Promise<RunningPod> {
    const sts = this.object(kind, name);
    const podName = `${name}-${i}`;
    const template = sts.spec.template.spec;
    const c = template.containers[0];
    const pod = template.securityContext;
    const dir = path.join(this.root, podName);
    fs.mkdirSync(dir, { recursive: true });
    const gid = pod.fsGroup;
    const owned = (p: string, mode: number) => {
      fs.chownSync(p, 0, gid);
      fs.chmodSync(p, mode);
    };
    const volumeSources = new Map<string, (mount: any) => string>();
    for (const claim of sts.spec.volumeClaimTemplates ?? []) {
      const claimDir = path.join(dir, `claim-${claim.metadata.name}`);
      fs.mkdirSync(claimDir, { recursive: true });
      owned(claimDir, 0o2775);
      volumeSources.set(claim.metadata.name, () => claimDir);
    }
    for (const volume of template.volumes) {
      if (volume.configMap || volume.secret) {
        const source = volume.configMap ? this.object("ConfigMap", volume.configMap.name).data : this.object("Secret", volume.secret.secretName).stringData;
        const itemsDir = path.join(dir, volume.name);
        fs.mkdirSync(itemsDir, { recursive: true });
        const modes = new Map<string, number>((volume.configMap?.items ?? []).map((item: any) => [item.path, item.mode]));
        for (const [key, content] of Object.entries<string>(source)) {
          const file = path.join(itemsDir, key);
          fs.writeFileSync(file, content);
          owned(file, modes.get(key) ?? volume.configMap?.defaultMode ?? volume.secret.defaultMode);
        }
        volumeSources.set(volume.name, (mount) => path.join(itemsDir, mount.subPath));
      } else if (volume.emptyDir && volume.emptyDir.medium !== "Memory") {
        const emptyDir = path.join(dir, volume.name);
        fs.mkdirSync(emptyDir, { recursive: true });
        owned(emptyDir, 0o2777);
        volumeSources.set(volume.name, () => emptyDir);
      }
    }
    const shm = template.volumes.find((v: any) => v.emptyDir?.medium === "Memory");
    const binds = c.volumeMounts
      .filter((m: any) => m.name !== shm?.name)
      .map((m: any) => {
        const source = volumeSources.get(m.name);
        if (!source) throw new Error(`${podName}: no source for volume ${m.name}`);
        return `${source(m)}:${m.mountPath}${m.readOnly ? ":ro" : ""}`;
      });
    const port = c.ports[0].containerPort;
    const security = c.securityContext;
    const user = `${security.runAsUser}:${security.runAsGroup}`;
    const container = await this.docker.createContainer({
      name: `${this.prefix}-${podName}`,
      Hostname: podName,
      Image: c.image,
      Entrypoint: c.command,
      Cmd: c.args,
      Env: (c.env ?? []).map((e: any) => `${e.name}=${e.value}`),
      User: user,
      ExposedPorts: { [`${port}/tcp`]: {} },
      HostConfig: {
        Binds: binds,
        GroupAdd: [String(gid)],
        CapDrop: security.capabilities.drop,
        CapAdd: security.capabilities.add ?? [],
        SecurityOpt: security.allowPrivilegeEscalation ? [] : ["no-new-privileges"],
        ReadonlyRootfs: security.readOnlyRootFilesystem === true,
        Memory: parseInt(c.resources.limits.memory, 10) * MEBI,
        NanoCpus: Math.round(Number(c.resources.limits.cpu) * 1e9),
        ShmSize: shm ? parseInt(shm.emptyDir.sizeLimit, 10) * MEBI : undefined,
        PortBindings: { [`${port}/tcp`]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
        NetworkMode: this.network,
      },
      NetworkingConfig: { EndpointsConfig: { [this.network]: { Aliases: this.names(sts, i) } } },
    });
    await container.start();
    const info = await container.inspect();
    const hostPort = Number(info.NetworkSettings.Ports[`${port}/tcp`]![0].HostPort);
    const running: RunningPod = { name: podName, container, hostPort, containerPort: port, user };
    this.pods.set(podName, running);
    await this.waitForProbe(running, c.startupProbe, timeoutMs);
    await this.waitForProbe(running, c.readinessProbe, timeoutMs);
    return running;
  }

  /** Runs a command in the pod as its user (as a kubelet runs an exec probe): its exit code and output. */
  async command(pod: RunningPod, command: string[]): Promise<{ exitCode: number; output: string }> {
    const exec = await pod.container.exec({ Cmd: command, User: pod.user, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({});
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("end", resolve);
      stream.on("close", resolve);
    });
    // Docker's multiplexed stream: 8-byte frame headers.
    const raw = Buffer.concat(chunks);
    const out: Buffer[] = [];
    for (let at = 0; at + 8 <= raw.length; ) {
      const size = raw.readUInt32BE(at + 4);
      out.push(raw.subarray(at + 8, at + 8 + size));
      at += 8 + size;
    }
    return { exitCode: (await exec.inspect()).ExitCode ?? -1, output: Buffer.concat(out).toString("utf8") };
  }

  /** Output of a command run in the pod as its user. */
  async exec(pod: RunningPod, command: string[]): Promise<string> {
    return (await this.command(pod, command)).output;
  }

  private async waitForProbe(pod: RunningPod, probe: any, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await this.command(pod, probe.exec.command)).exitCode === 0) return;
      const state = (await pod.container.inspect()).State;
      if (!state.Running || Date.now() > deadline) {
        const logs = (await pod.container.logs({ stdout: true, stderr: true, tail: 60 })).toString("utf8");
        throw new Error(`pod ${pod.name}: probe ${probe.exec.command.join(" ").slice(0, 120)} never passed (${state.Running ? "running" : `exited ${state.ExitCode}`}); log:\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Deletes the pods, keeping their claims, as deleting StatefulSets with the Retain policy does. */
  async removePods(): Promise<void> {
    for (const pod of this.pods.values()) await pod.container.remove({ force: true });
    this.pods.clear();
  }

  async removeAll(): Promise<void> {
    for (const pod of this.pods.values()) await pod.container.remove({ force: true }).catch(() => undefined);
    this.pods.clear();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
