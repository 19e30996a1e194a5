// init/scripts/postgres-primary-entrypoint.sh, run as each engine starts the primary's container,
// in front of the official image's own docker-entrypoint.sh (../shared/contracts/images), against
// the real PostgreSQL binaries, as the postgres user on both engines: on Docker the volume's root is
// postgres' (Docker's copy of the image's folder) and the password an upload postgres reads alone
// (0400); on Kubernetes (runAsNonRoot, fsGroup) the volume's root is root:<gid> 2775 and the
// password a Secret file root:<gid> 0440. No gosu at all. Both create the cluster on an empty
// volume, and apply a changed password to a kept cluster through the wrapper's socket-only
// temporary server.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { afterAll, describe, expect, test } from "vitest";
import { ENGINES, ownership, processEnviron, processUids } from "../support/container";
import { pgContainer, removeServerDir, serverUser, startPrimaryContainer, type PgContainer, type PgServer } from "../support/postgres";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const APPLYING = "primary-entrypoint: applying the declared password of postgres to the existing cluster";

describe.each(ENGINES)("primary wrapper entrypoint started as on %s", (engine) => {
  const user = serverUser()!;
  let c: PgContainer;
  let server: PgServer | undefined;
  const first = `first-${engine}-Password:1234`;
  const second = `second-${engine}-Password\\5678`;

  afterAll(async () => {
    await server?.stop();
    if (server) removeServerDir(server);
  });

  async function accepts(password: string): Promise<true | string> {
    const client = await server!.connect("postgres", "postgres", password).catch((error: { code?: string }) => error);
    if ("end" in client) {
      await client.end();
      return true;
    }
    return String(client.code);
  }

  const marker = () => path.join(path.dirname(c.pgdata), ".trading-db-stack-superuser-password.sha256");

  /** The running server's environment holds the password nowhere: no POSTGRES_PASSWORD(_FILE) with a value. */
  function expectNoPasswordInEnviron(password: string) {
    const environ = processEnviron(server!.process.pid!);
    expect(environ.PGDATA).toBe(c.pgdata); // it is the server's
    // The image's entrypoint exports POSTGRES_PASSWORD whatever it finds: here, nothing.
    expect(Object.entries(environ).filter(([k, v]) => k.startsWith("POSTGRES_PASSWORD") && v !== "")).toEqual([]);
    expect(Object.values(environ).filter((v) => v.includes(password))).toEqual([]);
  }

  test("an empty volume: the image's entrypoint creates the cluster with the declared password; the wrapper records it", async () => {
    c = await pgContainer("primary-wrapper", engine);
    c.files.secret("postgres-password", first);
    server = await startPrimaryContainer(c, first);

    // The wrapper made the cluster (initdb read the password file); the image's entrypoint only started it.
    expect(server.log()).toContain("primary-entrypoint: creating the cluster in");
    expect(server.log()).toContain("PostgreSQL Database directory appears to contain a database; Skipping initialization");
    expect(server.log()).not.toContain(APPLYING);
    expectNoPasswordInEnviron(first);
    expect(await accepts(first)).toBe(true);
    expect(fs.readFileSync(marker(), "utf8")).toBe(`${sha256(first)}\n`);
    expect(ownership(marker())).toMatchObject({ uid: user.uid, mode: "0600" });
    expect(ownership(c.pgdata)).toMatchObject({ uid: user.uid });
    expect(processUids(server.process.pid!)).toEqual([user.uid, user.uid, user.uid, user.uid]);
    // Nothing was chowned or chmodded that the postgres user does not own: the volume's root and the password file are as mounted.
    const mounted = engine === "kubernetes" ? { volume: { uid: 0, gid: user.gid, mode: "2775" }, secret: { uid: 0, gid: user.gid, mode: "0440" } } : { volume: { uid: user.uid, gid: user.gid, mode: "0755" }, secret: { uid: user.uid, gid: user.gid, mode: "0400" } };
    expect(ownership(c.volume)).toEqual(mounted.volume);
    expect(ownership(path.join(c.files.dir, "secrets", "postgres-password"))).toEqual(mounted.secret);
  });

  test("a kept cluster and a new declared password: the wrapper applies it before the server starts; the old one stops working", async () => {
    await server!.stop();
    c.files.secret("postgres-password", second);
    server = await startPrimaryContainer(c, second);

    expect(server.log()).toContain(APPLYING);
    expect(server.log()).toContain("PostgreSQL Database directory appears to contain a database; Skipping initialization");
    expect(await accepts(second)).toBe(true);
    expect(await accepts(first)).toBe("28P01"); // invalid_password
    expect(fs.readFileSync(marker(), "utf8")).toBe(`${sha256(second)}\n`);
    expect(ownership(marker())).toMatchObject({ uid: user.uid, mode: "0600" });
    // The temporary server listened on no TCP port and is gone; the real one runs as postgres.
    expect(processUids(server.process.pid!)).toEqual([user.uid, user.uid, user.uid, user.uid]);
    expectNoPasswordInEnviron(second);
  });

  test("a restart with the same password skips the temporary server", async () => {
    await server!.stop();
    server = await startPrimaryContainer(c, second);
    expect(server.log().split(APPLYING).length - 1).toBe(1);
    expect(await accepts(second)).toBe(true);
  });

  test("the volume holds another major's data (an image of a new major): the wrapper refuses to start an empty cluster beside it, and changes nothing", async () => {
    await server!.stop();
    server = undefined;
    // The kept cluster, as the data of PostgreSQL 14 would lie: /var/lib/postgresql/14/docker.
    const older = path.join(c.volume, "14", "docker");
    fs.renameSync(path.dirname(c.pgdata), path.dirname(older));
    fs.writeFileSync(path.join(older, "PG_VERSION"), "14\n");
    const before = fs.readdirSync(c.volume).sort();
    await expect(startPrimaryContainer(c, second)).rejects.toThrow(
      /primary-entrypoint: error: the volume holds the data of PostgreSQL 14 in .*\/14\/docker, and this server is PostgreSQL 15: it would start an empty cluster beside it\. Set postgresImage back to a 14\.x tag, or move the data to PostgreSQL 15 first .*nothing was changed/,
    );
    expect(fs.readdirSync(c.volume).sort()).toEqual(before);
    expect(fs.existsSync(c.pgdata)).toBe(false);
  });
});
