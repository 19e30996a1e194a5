// npm run bench: what a Kubernetes port-forward costs a hook. The PostgreSQL init hook runs from its
// serialised provider against a real server, cold (empty database) and warm (a no-op re-run),
// directly and through init/access.ts's tunnel (the real @kubernetes/client-node PortForward) to
// the local port-forward server (test/support/kube-port-forward-server.ts); and one connection
// with SELECT 1, both ways. Only the client side of the tunnel is measured: a real cluster adds
// the hops through the API server and the kubelet. A benchmark: nothing here fails on a number.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { test } from "vitest";
import { median, table } from "./report";
import { kubeconfigYaml, startPortForwardServer } from "../test/support/kube-port-forward-server";
import { removeServerDir, startPrimary } from "../test/support/postgres";
import { requireBuilt, ROOT, runProgram, serializedHook } from "../test/support/pulumi";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`);

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

test("bench: the PostgreSQL hook directly and through a port-forward", async () => {
  const run = await runProgram("dev");
  const hook = serializedHook(run.byName("trading-postgres-init"));
  const server = await startPrimary(hook.inputs.superuserPassword, "bench-forward");
  const token = "bench-token";
  const api = await startPortForwardServer({ token, pods: { "trading-db/trading-postgres-0": { 5432: server.port } } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-bench-forward-"));
  const kubeconfig = path.join(dir, "kubeconfig");
  fs.writeFileSync(kubeconfig, kubeconfigYaml([{ name: "bench", server: api.url, token }]), { mode: 0o600 });
  const direct = { ...hook.inputs, port: server.port };
  const tunnelled = { ...hook.inputs, host: "trading-postgres.trading-db.svc.cluster.local", port: 5432, kubernetes: { namespace: "trading-db", pod: "trading-postgres-0", kubeconfig } };
  const { withAccess } = requireBuilt("init/access.js");
  const databases: Array<{ name: string; owner: string }> = hook.inputs.databases;
  const reset = async () => {
    const client = await server.connect();
    try {
      for (const db of databases) await client.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
      for (const role of [hook.inputs.replicationRole, hook.inputs.readonlyRole, ...databases.map((d) => d.owner)]) await client.query(`DROP ROLE IF EXISTS ${role}`);
    } finally {
      await client.end();
    }
  };
  const selectOne = async (host: string, port: number) => {
    const client = new Client({ host, port, user: "postgres", password: hook.inputs.superuserPassword, database: "postgres" });
    await client.connect();
    await client.query("SELECT 1");
    await client.end();
  };
  const rows: Array<{ work: string; direct: number[]; tunnel: number[] }> = [
    { work: "init hook, cold", direct: [], tunnel: [] },
    { work: "init hook, warm (no-op)", direct: [], tunnel: [] },
    { work: "one connection + SELECT 1", direct: [], tunnel: [] },
  ];
  try {
    for (let i = 0; i < RUNS; i++) {
      for (const [inputs, key] of [[direct, "direct"], [tunnelled, "tunnel"]] as const) {
        await reset();
        rows[0][key].push(await timed(() => hook.provider.create(inputs)));
        rows[1][key].push(await timed(() => hook.provider.update("id", inputs, inputs)));
      }
      rows[2].direct.push(await timed(() => selectOne("127.0.0.1", server.port)));
      // The tunnel opened as a hook opens it (its check of pod and credentials included).
      rows[2].tunnel.push(await timed(() => withAccess(tunnelled, (opened: { host: string; port: number }) => selectOne(opened.host, opened.port))));
    }
  } finally {
    await api.close();
    await server.stop();
    removeServerDir(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const lines = [
    ["work", "runs", "direct", "port-forward", "added"],
    ...rows.map((r) => [r.work, String(r.direct.length), ms(median(r.direct)), ms(median(r.tunnel)), ms(median(r.tunnel) - median(r.direct))]),
  ];
  const report = `\n${table(lines)}\n\n${os.cpus().length} CPUs, node ${process.version}; medians; the API server and kubelet hops of a real cluster are not in these numbers\n`;
  process.stdout.write(report);
  fs.mkdirSync(path.join(ROOT, "bin"), { recursive: true });
  fs.writeFileSync(path.join(ROOT, "bin/bench-port-forward.txt"), report);
});
