// A local stand-in for the Kubernetes API server's pod port-forward, for tests of the hooks' access
// layer (init/access.ts) with the real @kubernetes/client-node. No cluster can run on the CI machine.
//
// It speaks the protocol the kubelet serves behind the API server for WebSocket clients
// (kubernetes pkg/kubelet/cri/streaming/portforward/websocket.go, the `wsstream` channel protocol):
// - GET /api/v1/namespaces/{namespace}/pods/{pod}/portforward?ports=N[,M...] upgraded to a WebSocket;
//   the subprotocol is the first one the client offers among v4.channel.k8s.io and none (binary
//   channels; the base64 variant is not served, nor is the SPDY tunnel of newer kubectl);
// - per port i (in the order of `ports`) a data channel 2i and an error channel 2i+1; every frame
//   starts with its channel byte; the first frame on each channel is the port, 2 bytes little-endian;
// - data channel: bytes both ways to the pod's port; a failure to reach it is written on the error
//   channel ("error forwarding port N to pod P, uid U: ...") before the WebSocket closes;
// - the WebSocket closes when the pod's connection ends, the pod's connection ends when it closes.
// As the API server does before any upgrade: no or an unknown bearer token is 401, a token without
// the RBAC grant (`forbiddenTokens`) 403, an unknown pod 404, each with a v1 Status body.
//
// A pod's ports map to real TCP servers on this machine; every request is recorded. It also answers
// the two reads the stack makes besides: the pods of a namespace by label selector (GET
// /api/v1/namespaces/{namespace}/pods?labelSelector=k=v,..., each pod Running and Ready unless
// listed as not ready), and a CustomResourceDefinition by name.
import { randomUUID } from "crypto";
import * as http from "http";
import * as net from "net";
import { WebSocketServer, type WebSocket } from "ws";
import YAML from "yaml";

export interface PortForwardRequest {
  namespace: string;
  pod: string;
  ports: number[];
  /** The bearer token sent, if any. */
  token: string | undefined;
  /** 101 when upgraded, else the HTTP status answered. */
  status: number;
  /** The subprotocol chosen ("" for none) when upgraded. */
  protocol?: string;
}

export interface PortForwardServerOptions {
  /** The bearer token that may port-forward; read at each request, so a test may rotate it. */
  token: string;
  /** Tokens the server knows but RBAC does not allow to port-forward (403). */
  forbiddenTokens?: string[];
  /** "namespace/pod" -> container port -> the local TCP port that plays it; read at each request, so a test may add pods. */
  pods: Record<string, Record<number, number>>;
  /** "namespace/pod" -> its labels; read at each request, so a test may move a label (a failover). */
  labels?: Record<string, Record<string, string>>;
  /** "namespace/pod" of pods that run but are not Ready. */
  notReady?: string[];
  /** CustomResourceDefinitions by name (GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}); 404 for others. */
  customResourceDefinitions?: Record<string, unknown>;
  /** "namespace/name" of the StatefulSets that exist (GET /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}); 404 for others. */
  statefulSets?: string[];
  /** "namespace/name" -> the Service's metadata (GET /api/v1/namespaces/{namespace}/services/{name}); 404 for others. */
  services?: Record<string, Record<string, unknown>>;
  /** namespace -> Deployments (their manifests) listed by GET /apis/apps/v1/namespaces/{namespace}/deployments, filtered by label selector. */
  deployments?: Record<string, Array<{ metadata: { name: string; labels: Record<string, string> }; spec: unknown }>>;
}

export interface LookupRequest {
  path: string;
  /** The label selector of a pod list. */
  selector?: string;
  token: string | undefined;
  status: number;
}

export interface PortForwardServer {
  /** http://127.0.0.1:<port> */
  url: string;
  requests: PortForwardRequest[];
  /** Pod lists and CRD reads. */
  lookups: LookupRequest[];
  /** Port-forward WebSockets open right now, and the most ever open at once. */
  open: number;
  maxOpen: number;
  close(): Promise<void>;
}

const SUPPORTED_PROTOCOLS = ["v4.channel.k8s.io"];

export async function startPortForwardServer(options: PortForwardServerOptions): Promise<PortForwardServer> {
  const uids = new Map<string, string>();
  const sockets = new Set<net.Socket>();
  // The first protocol the client offers that is served (a request offering none gets none).
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered: Set<string>) => [...offered].find((p) => SUPPORTED_PROTOCOLS.includes(p)) ?? false });
  const api = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const lookup: LookupRequest = { path: url.pathname, token, status: 0 };
    const answer = (code: number, body: string) => {
      lookup.status = code;
      res.writeHead(code, { "content-type": "application/json" });
      res.end(body);
    };
    const pods = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
    const crd = /^\/apis\/apiextensions\.k8s\.io\/v1\/customresourcedefinitions\/([^/]+)$/.exec(url.pathname);
    const sts = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/statefulsets\/([^/]+)$/.exec(url.pathname);
    const svc = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)$/.exec(url.pathname);
    const deploys = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments$/.exec(url.pathname);
    if (req.method !== "GET" || (!pods && !crd && !sts && !svc && !deploys)) return answer(404, statusBody(404, "NotFound", "the page could not be found"));
    server.lookups.push(lookup);
    if (token === undefined || (token !== options.token && !options.forbiddenTokens?.includes(token))) return answer(401, statusBody(401, "Unauthorized", "Unauthorized"));
    if (token !== options.token) return answer(403, statusBody(403, "Forbidden", `User "test" cannot read ${url.pathname}`));
    const matches = (labels: Record<string, string> | undefined) =>
      (url.searchParams.get("labelSelector") ?? "").split(",").filter(Boolean).every((term) => {
        const [k, v] = term.split("=");
        return labels?.[k] === v;
      });
    if (deploys) {
      const items = (options.deployments?.[deploys[1]] ?? []).filter((d) => matches(d.metadata.labels)).map((d) => ({ ...d, metadata: { ...d.metadata, namespace: deploys[1] } }));
      return answer(200, JSON.stringify({ kind: "DeploymentList", apiVersion: "apps/v1", metadata: {}, items }));
    }
    if (svc) {
      const found = options.services?.[`${svc[1]}/${svc[2]}`];
      if (!found) return answer(404, statusBody(404, "NotFound", `services "${svc[2]}" not found`));
      return answer(200, JSON.stringify({ kind: "Service", apiVersion: "v1", metadata: { name: svc[2], namespace: svc[1], ...found }, spec: { ports: [{ port: 5432 }] } }));
    }
    if (sts) {
      const [, namespace, name] = sts;
      if (!options.statefulSets?.includes(`${namespace}/${name}`)) return answer(404, statusBody(404, "NotFound", `statefulsets.apps "${name}" not found`));
      return answer(200, JSON.stringify({ kind: "StatefulSet", apiVersion: "apps/v1", metadata: { name, namespace }, spec: { replicas: 1, selector: { matchLabels: {} }, template: {} } }));
    }
    if (crd) {
      const found = options.customResourceDefinitions?.[crd[1]];
      return found ? answer(200, JSON.stringify(found)) : answer(404, statusBody(404, "NotFound", `customresourcedefinitions.apiextensions.k8s.io "${crd[1]}" not found`));
    }
    const namespace = pods![1];
    const selector = url.searchParams.get("labelSelector") ?? "";
    lookup.selector = selector;
    const wanted = selector.split(",").filter(Boolean).map((term) => term.split("=") as [string, string]);
    const items = Object.keys(options.pods)
      .filter((key) => key.startsWith(`${namespace}/`))
      .filter((key) => wanted.every(([k, v]) => options.labels?.[key]?.[k] === v))
      .map((key) => ({
        metadata: { name: key.slice(namespace.length + 1), namespace, labels: options.labels?.[key] ?? {} },
        status: { phase: "Running", conditions: [{ type: "Ready", status: options.notReady?.includes(key) ? "False" : "True" }] },
      }));
    answer(200, JSON.stringify({ kind: "PodList", apiVersion: "v1", metadata: {}, items }));
  });
  api.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const server: PortForwardServer = {
    url: "",
    requests: [],
    lookups: [],
    open: 0,
    maxOpen: 0,
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        for (const socket of sockets) socket.destroy();
        api.close(() => resolve());
      }),
  };

  api.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/.exec(url.pathname);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const ports = url.searchParams.getAll("ports").flatMap((p) => p.split(",")).map(Number);
    const record: PortForwardRequest = { namespace: match?.[1] ?? "", pod: match?.[2] ?? "", ports, token, status: 0 };
    server.requests.push(record);
    const refuse = (code: number, reason: string, message: string) => {
      record.status = code;
      refuseUpgrade(socket, code, reason, message);
    };

    if (!match) return refuse(404, "NotFound", "the server could not find the requested resource");
    const [, namespace, pod] = match;
    if (token === undefined || (token !== options.token && !options.forbiddenTokens?.includes(token))) return refuse(401, "Unauthorized", "Unauthorized");
    if (token !== options.token) {
      return refuse(403, "Forbidden", `pods "${pod}" is forbidden: User "test" cannot create resource "pods/portforward" in API group "" in the namespace "${namespace}"`);
    }
    const podPorts = options.pods[`${namespace}/${pod}`];
    if (!podPorts) return refuse(404, "NotFound", `pods "${pod}" not found`);
    if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
      return refuse(400, "BadRequest", `invalid port in "${url.searchParams.getAll("ports").join(",")}"`);
    }
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim()).filter(Boolean);
    const protocol = offered.length === 0 ? "" : offered.find((p) => SUPPORTED_PROTOCOLS.includes(p));
    if (protocol === undefined) return refuse(400, "BadRequest", `requested protocol(s) are not supported: ${offered.join(", ")}; supports ${SUPPORTED_PROTOCOLS.join(", ")}`);

    record.protocol = protocol;
    record.status = 101;
    if (!uids.has(`${namespace}/${pod}`)) uids.set(`${namespace}/${pod}`, randomUUID());
    const uid = uids.get(`${namespace}/${pod}`)!;
    wss.handleUpgrade(req, socket, head, (ws) => forward(ws, pod, uid, ports, podPorts, server));
  });

  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", () => resolve()));
  server.url = `http://127.0.0.1:${(api.address() as net.AddressInfo).port}`;
  return server;
}

/** One port-forward WebSocket: each port's channels joined to a TCP connection to what plays that port. */
function forward(ws: WebSocket, pod: string, uid: string, ports: number[], podPorts: Record<number, number>, server: PortForwardServer): void {
  server.open++;
  server.maxOpen = Math.max(server.maxOpen, server.open);
  const frame = (channel: number, data: Buffer) => ws.send(Buffer.concat([Buffer.from([channel]), data]));
  const portBytes = (port: number) => {
    const bytes = Buffer.alloc(2);
    bytes.writeUInt16LE(port);
    return bytes;
  };

  let remaining = ports.length;
  const done = () => {
    if (--remaining === 0) ws.close();
  };
  const connections = ports.map((port, i) => {
    frame(2 * i, portBytes(port));
    frame(2 * i + 1, portBytes(port));
    const fail = (why: string) => {
      frame(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${pod}, uid ${uid}: failed to connect to localhost:${port} inside namespace: ${why}`));
      done();
    };
    const local = podPorts[port];
    if (local === undefined) {
      fail("connect: connection refused"); // nothing listens on that port in the pod
      return undefined;
    }
    const connection = net.connect({ host: "127.0.0.1", port: local });
    let connected = false;
    connection.on("connect", () => (connected = true));
    connection.on("data", (data) => frame(2 * i, data));
    connection.on("error", (error) => {
      if (!connected) fail(error.message);
    });
    connection.on("close", () => {
      if (connected) done();
    });
    return connection;
  });

  ws.on("message", (message: Buffer) => {
    const channel = message[0];
    if (channel % 2 !== 0) return; // error channels are written by the server only
    connections[channel / 2]?.write(message.subarray(1));
  });
  ws.on("close", () => {
    server.open--;
    for (const connection of connections) connection?.end();
  });
  ws.on("error", () => undefined);
}

/** A v1 Status, the body of the API server's errors. */
function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });
}

/** The HTTP answer to an upgrade that is not allowed, written on the raw socket. */
function refuseUpgrade(socket: net.Socket, code: number, reason: string, message: string): void {
  const body = statusBody(code, reason, message);
  socket.end(`HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export interface KubeContext {
  name: string;
  /** The API server's URL (http://127.0.0.1:<port>). */
  server: string;
  token?: string;
  /** The user's credentials when not a token (client certificate, exec plugin). */
  user?: Record<string, unknown>;
  /** The cluster's TLS settings; insecure-skip-tls-verify when absent. */
  tls?: Record<string, unknown>;
  namespace?: string;
}

/**
 * A kubeconfig with one cluster, user and context per entry; `current` is its current context
 * (the first when absent). http:// servers need insecure-skip-tls-verify in
 * @kubernetes/client-node, as no TLS is involved.
 */
export function kubeconfigYaml(contexts: KubeContext[], current = contexts[0].name): string {
  return YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: contexts.map((c) => ({ name: `${c.name}-cluster`, cluster: { server: c.server, ...(c.tls ?? { "insecure-skip-tls-verify": true }) } })),
    users: contexts.map((c) => ({ name: `${c.name}-user`, user: c.user ?? { token: c.token } })),
    contexts: contexts.map((c) => ({ name: c.name, context: { cluster: `${c.name}-cluster`, user: `${c.name}-user`, ...(c.namespace ? { namespace: c.namespace } : {}) } })),
    "current-context": current,
  });
}
