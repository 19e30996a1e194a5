// How a hook reaches a database server from the machine that runs `pulumi up`.
//
// - Docker: the server's port is published on this machine; the hook connects to host:port as
//   given. Nothing else happens on this path: no listener, no tunnel, no Kubernetes client loaded.
// - Kubernetes: the pod is reached through the API server's port-forward (pods/portforward, the
//   `PortForward` of @kubernetes/client-node). openAccess listens on a loopback port of its own and
//   opens one port-forward WebSocket per connection made to it, so database clients connect to a
//   local host:port exactly as under Docker, and retry as they do when a server is not up yet.
//
// Runs inside the serialised dynamic providers (see init/hook.ts): packages are loaded inside the
// functions, and @kubernetes/client-node (ESM only) with `await import()`.
import type { KubeConfig } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import type { Socket } from "net";

/** A pod reached through the Kubernetes API server's port-forward. */
export interface KubernetesTarget {
  namespace: string;
  /** The pod by name (a StatefulSet's pods keep theirs). Either this or `selector`. */
  pod?: string;
  /**
   * The pod by its labels, looked up each time a connection is opened, so a hook that retries
   * follows a pod that moved (CloudNativePG's primary after a failover): a label selector such as
   * `cnpg.io/cluster=trading-postgres,cnpg.io/instanceRole=primary`. `index` takes the n-th
   * (from 0) of the ready matching pods in name order, numbers by value (one of several replicas);
   * the first when absent.
   */
  selector?: PodSelector;
  /** The kubeconfig context to use; the kubeconfig's current context when absent. */
  context?: string;
  /**
   * A kubeconfig's contents, or the path to one, as Pulumi's Kubernetes provider takes it. When
   * absent: $KUBECONFIG, else ~/.kube/config (else the in-cluster service account).
   */
  kubeconfig?: string;
}

export interface PodSelector {
  labels: string;
  index?: number;
}

/** How messages name a target's pod: its name, or what selects it. */
export function podLabel(target: KubernetesTarget): string {
  if (target.pod !== undefined) return target.pod;
  if (!target.selector) throw new Error(`a Kubernetes target in namespace ${target.namespace} names neither a pod nor a selector`);
  const { labels, index } = target.selector;
  return index ? `pod ${index + 1} of those labelled ${labels}` : `the pod labelled ${labels}`;
}

/** Where a hook finds a server. With `kubernetes`, `port` is the container port on the pod and `host` only names it. */
export interface ServerAccess {
  host: string;
  port: number;
  kubernetes?: KubernetesTarget;
}

/** What this file uses of the WebSocket (the `ws` package's) that a port-forward returns. */
interface Tunnel {
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "close", listener: () => void): unknown;
  close(): void;
  terminate(): void;
}

/** A server ready for clients: connect to host:port. */
export interface OpenedAccess {
  host: string;
  port: number;
  /** What error messages call the server: host:port, or namespace/pod:port under Kubernetes. */
  label: string;
  /** Why the latest tunnelled connection failed, if it did (always undefined without a tunnel). */
  tunnelError(): string | undefined;
  close(): Promise<void>;
}

/** `localPort`: where a tunnel listens (npm run forward: the configured ports); any free port when absent. */
export async function openAccess(access: ServerAccess, options: { localPort?: number } = {}): Promise<OpenedAccess> {
  if (!access.kubernetes) {
    return { host: access.host, port: access.port, label: `${access.host}:${access.port}`, tunnelError: () => undefined, close: async () => undefined };
  }
  return openPortForward(access.kubernetes, access.port, options.localPort ?? 0);
}

/**
 * Opens each member of a replicated set on its own: one that cannot be reached at all (its pod
 * gone or Pending) is undefined in its place, with the reason in `failures`. Fails unless more than
 * half are open (`what` names the set in that message). The caller closes what is open.
 */
export async function openMajority(accesses: ServerAccess[], what: string): Promise<{ members: Array<OpenedAccess | undefined>; failures: string[] }> {
  const members: Array<OpenedAccess | undefined> = [];
  const failures: string[] = [];
  for (const access of accesses) {
    try {
      members.push(await openAccess(access));
    } catch (error) {
      failures.push((error as Error).message);
      members.push(undefined);
    }
  }
  const open = members.filter((m) => m !== undefined);
  if (open.length <= accesses.length / 2) {
    await Promise.all(open.map((m) => m.close()));
    throw new Error(`${what}: only ${open.length} of ${accesses.length} members can be reached, no majority: ${failures.join("; ")}`);
  }
  return { members, failures };
}

/** Runs `work` with the server opened, and closes it afterwards. */
export async function withAccess<T>(access: ServerAccess, work: (server: OpenedAccess) => Promise<T>): Promise<T> {
  return withAccesses([access], ([server]) => work(server));
}

/**
 * Runs `work` with every server opened, and closes them afterwards. When `work` fails and a tunnel's
 * latest connection had failed too, the error says why that tunnel failed (a client's own error, a
 * reset connection, would not).
 */
export async function withAccesses<T>(accesses: ServerAccess[], work: (servers: OpenedAccess[]) => Promise<T>): Promise<T> {
  const opened: OpenedAccess[] = [];
  try {
    for (const access of accesses) opened.push(await openAccess(access));
    return await work(opened);
  } catch (error) {
    const tunnels = opened.map((o) => o.tunnelError()).filter((e): e is string => e !== undefined);
    if (tunnels.length === 0) throw error;
    const wrapped = new Error(`${(error as Error).message}; last port-forward error: ${tunnels.join("; ")}`, { cause: error });
    throw Object.assign(wrapped, { code: (error as { code?: unknown }).code });
  } finally {
    await Promise.all(opened.map((o) => o.close()));
  }
}

/** How long the first port-forward (the check that pod and credentials are right) may take to answer. */
const PROBE_TIMEOUT_MS = 20_000;

async function openPortForward(target: KubernetesTarget, port: number, listenPort: number): Promise<OpenedAccess> {
  const net = require("net") as typeof import("net");
  const stream = require("stream") as typeof import("stream");
  const k8s = await import("@kubernetes/client-node");
  const which = podLabel(target);
  // Messages name the pod; one found by its labels is named once the first port-forward found it.
  let label = `${target.namespace}/${target.pod ?? `{${target.selector!.labels}}${target.selector!.index ? `#${target.selector!.index + 1}` : ""}`}:${port}`;
  const kc = loadKubeconfig(k8s, target, label);
  const forward = new k8s.PortForward(kc);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apiServer = `the Kubernetes API server ${kc.getCurrentCluster()!.server} (context ${kc.getCurrentContext()})`;

  /** The failure of one port-forward request, worded for the user; `final` when waiting cannot fix it. */
  const describe = (error: unknown): { message: string; final: boolean } => {
    const text = (error as { message?: string } | undefined)?.message ?? String(error);
    // A WebSocket refused by the API server says its status in the text; a REST call (the pod lookup) in `code`.
    const code = (error as { code?: unknown } | undefined)?.code;
    const status = typeof code === "number" ? code : Number(/Unexpected server response: (\d+)/.exec(text)?.[1] ?? 0);
    const rbac = `the kubeconfig's user needs the RBAC permissions get and create on pods/portforward (WebSocket port-forward checks get before Kubernetes 1.35, create from 1.35) and get${target.selector ? " and list" : ""} on pods in namespace ${target.namespace}`;
    const prefix = `port-forward to ${target.pod === undefined ? which : `pod ${which}`} in namespace ${target.namespace}, port ${port}`;
    if ((error as { noReadyPod?: boolean } | undefined)?.noReadyPod) return { final: false, message: `${prefix}: ${text}` };
    if (status === 401) return { final: true, message: `${prefix}: ${apiServer} did not accept the kubeconfig's credentials (401 Unauthorized); check the user's token or certificate; ${rbac}` };
    if (status === 403) return { final: true, message: `${prefix}: ${apiServer} forbids it (403 Forbidden): ${rbac}` };
    if (status === 404) return { final: true, message: `${prefix}: ${apiServer} found no pod ${which} in namespace ${target.namespace} (404 Not Found)` };
    // The API server down, overloaded, or a network error: worth waiting for, as for a server that is starting.
    const transient = status === 429 || status >= 500 || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up/.test(text);
    return { final: !transient, message: `${prefix} through ${apiServer} failed: ${text}` };
  };

  /** The pod to forward to now: the named one, or the ready pod the selector picks (asked anew each time). */
  const podNow = async (): Promise<string> => {
    if (target.pod !== undefined) return target.pod;
    const { labels, index = 0 } = target.selector!;
    const list = await core.listNamespacedPod({ namespace: target.namespace, labelSelector: labels });
    const ready = list.items
      .filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"))
      .map((p) => p.metadata?.name ?? "")
      // In name order, a number in it by its value (CloudNativePG's serials: trading-postgres-10 after -9).
      .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    if (ready[index] === undefined) {
      // A failover or a rollout in progress, or pods still starting: worth waiting for.
      const why = `no ready pod labelled ${labels} in namespace ${target.namespace}${index ? ` to be number ${index + 1} (${ready.length} ready)` : ""}`;
      throw Object.assign(new Error(why), { noReadyPod: true });
    }
    return ready[index];
  };

  let latestError: string | undefined;
  const live = new Set<{ socket: Socket; ws?: Tunnel }>();

  // One port-forward per accepted connection: the pod's answers go to the socket, the socket's bytes to the pod.
  const listener = net.createServer((socket) => {
    const pair: { socket: Socket; ws?: Tunnel } = { socket };
    live.add(pair);
    socket.on("error", () => undefined); // "close" follows and cleans up
    socket.on("close", () => {
      live.delete(pair);
      pair.ws?.close();
    });
    let podError = ""; // what the error channel says (nothing listens on the port...)
    let failure: string | undefined;
    const errors = new stream.Writable({
      write(chunk: Buffer, _encoding, done) {
        podError += chunk.toString();
        done();
      },
    });
    const reset = (why: string) => {
      latestError = why;
      // A reset, not an end: clients take ECONNRESET as "try again", as they take ECONNREFUSED under Docker.
      if (!socket.destroyed) socket.resetAndDestroy();
    };
    podNow().then((pod) => forward.portForward(target.namespace, pod, [port], socket, errors, socket)).then(
      (opened) => {
        const ws = opened as unknown as Tunnel;
        pair.ws = ws;
        if (socket.destroyed) return ws.close();
        ws.on("error", (error) => (failure = `${label}: the port-forward connection failed: ${error.message}`));
        ws.on("close", () => {
          const why = podError ? `${label}: ${podError}` : failure;
          if (why) return reset(why);
          latestError = undefined; // this one went through: earlier failures are history
          socket.end();
        });
      },
      (error: unknown) => reset(describe(error).message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(listenPort, "127.0.0.1", () => resolve());
  });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const { socket, ws } of live) {
        ws?.terminate();
        socket.destroy();
      }
      listener.close(() => resolve());
    });

  // One port-forward up front, closed at once: a wrong pod or credentials fail here, by name,
  // instead of as connection resets a hook would retry until its time is up. (The kubelet connects
  // to the pod's port for it, and the server sees a connection that closes without a word.)
  const sink = () => new stream.Writable({ write: (_chunk, _encoding, done) => done() });
  const probe = podNow().then((pod) => {
    label = `${target.namespace}/${pod}:${port}`;
    return forward.portForward(target.namespace, pod, [port], sink(), sink(), new stream.PassThrough());
  });
  let waiting = true;
  probe.then((ws) => (waiting ? undefined : (ws as unknown as Tunnel).close()), () => undefined); // one that answers after the timeout
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000}s (ETIMEDOUT)`)), PROBE_TIMEOUT_MS);
    });
    ((await Promise.race([probe, timeout])) as unknown as Tunnel).close();
  } catch (error) {
    const failure = describe(error);
    if (failure.final) {
      await close();
      throw new Error(failure.message);
    }
    latestError = failure.message; // the hook's clients will retry, as for a server still starting
  } finally {
    waiting = false;
    clearTimeout(timer);
  }

  const { port: localPort } = listener.address() as import("net").AddressInfo;
  return { host: "127.0.0.1", port: localPort, label, tunnelError: () => latestError, close };
}

/**
 * The target as far as a hook's work depends on it: the cluster its kubeconfig reaches, not the
 * credentials that reach it. A kubeconfig given as contents counts by its context's cluster (API
 * server, CA, TLS server name), so a rotated token or certificate, or a renamed context, is the same
 * target. A path, or no kubeconfig, counts as given (the file's contents are no input); contents that
 * do not load count as they are, and the hook that runs on them says why they do not.
 */
export async function targetCluster(target: KubernetesTarget): Promise<Record<string, unknown>> {
  const given = target.kubeconfig;
  if (!given || isKubeconfigPath(given)) return { ...target };
  const k8s = await import("@kubernetes/client-node");
  let cluster: import("@kubernetes/client-node", { with: { "resolution-mode": "import" } }).Cluster;
  try {
    cluster = loadKubeconfig(k8s, target, `${target.namespace}/${podLabel(target)}`).getCurrentCluster()!;
  } catch {
    return { ...target };
  }
  const { server, caData, caFile, tlsServerName, skipTLSVerify } = cluster;
  const pod = target.selector ? { selector: target.selector } : { pod: target.pod };
  return { namespace: target.namespace, ...pod, cluster: { server, caData, caFile, tlsServerName, skipTLSVerify } };
}

/** The kubeconfig a target names, loaded and with its context selected, for the API calls a hook makes besides port-forwards. */
export async function targetKubeconfig(target: Pick<KubernetesTarget, "namespace" | "context" | "kubeconfig">, label: string): Promise<KubeConfig> {
  const k8s = await import("@kubernetes/client-node");
  return loadKubeconfig(k8s, target as KubernetesTarget, label);
}

/** One line that is not a JSON or YAML flow mapping: a path (a kubeconfig's contents have several lines). */
export function isKubeconfigPath(kubeconfig: string): boolean {
  return !kubeconfig.includes("\n") && !kubeconfig.trimStart().startsWith("{");
}

/** The kubeconfig the target names, with its context selected. Messages never quote its contents (it holds credentials). */
function loadKubeconfig(k8s: typeof import("@kubernetes/client-node", { with: { "resolution-mode": "import" } }), target: KubernetesTarget, label: string): KubeConfig {
  const fs = require("fs") as typeof import("fs");
  const os = require("os") as typeof import("os");
  const path = require("path") as typeof import("path");
  const kc = new k8s.KubeConfig();
  const given = target.kubeconfig;
  let source: string;
  if (!given) {
    const home = path.join(os.homedir(), ".kube", "config");
    source = process.env.KUBECONFIG ? `KUBECONFIG=${process.env.KUBECONFIG}` : home;
    if (!process.env.KUBECONFIG && !fs.existsSync(home) && !process.env.KUBERNETES_SERVICE_HOST) {
      throw new Error(`port-forward to ${label}: no kubeconfig was given, KUBECONFIG is not set and ${home} does not exist`);
    }
    load(() => kc.loadFromDefault());
  } else {
    if (isKubeconfigPath(given)) {
      const file = given.replace(/^~(?=$|\/)/, os.homedir());
      source = `the kubeconfig file ${file}`;
      load(() => kc.loadFromFile(file));
    } else {
      source = "the kubeconfig given";
      load(() => kc.loadFromString(given));
    }
  }
  function load(loader: () => void): void {
    try {
      loader();
    } catch (error) {
      // A parser's message may quote the line it stopped at, which may hold a token: only file errors are shown.
      const code = (error as { code?: string }).code;
      const why = code && /^E[A-Z]+$/.test(code) ? (error as Error).message : "it is not a valid kubeconfig";
      throw new Error(`port-forward to ${label}: cannot load ${source}: ${why}`);
    }
  }
  const contexts = kc.getContexts().map((c) => c.name);
  if (contexts.length === 0) throw new Error(`port-forward to ${label}: ${source} defines no context (neither a kubeconfig nor the path of one?)`);
  if (target.context) {
    if (!contexts.includes(target.context)) throw new Error(`port-forward to ${label}: ${source} has no context "${target.context}" (it has: ${contexts.join(", ")})`);
    kc.setCurrentContext(target.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(`port-forward to ${label}: ${source}: context "${kc.getCurrentContext() ?? ""}" does not exist or names no cluster it defines (contexts: ${contexts.join(", ")})`);
  }
  return kc;
}
