#!/usr/bin/env node
// TLS for the stand-in image's mongod (test/engine/images/mongo), whose 4.0.10 build has none:
// the wrapper runs this when mongod is given a TLS mode. It starts the real mongod on a unix
// socket only (same --port, so the server's own name for itself is unchanged) and listens where
// mongod would have (--bind_ip / --bind_ip_all, --port), serving TLS with the member's
// certificate (--tlsCertificateKeyFile) and checking any client certificate against --tlsCAFile,
// as mongod does with --tlsAllowConnectionsWithoutCertificates.
//   usage: mongod-tls.js <real mongod> <mongod arguments>
// What differs from a TLS-built mongod: members talk to each other (and to themselves: replica-set
// isSelf) in clear, since this mongod cannot speak TLS out. A clear connection is let through when
// its first message is a member's (below: what drivers never send first); under requireTLS every
// other clear connection is closed, as mongod refuses it.
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");
const tls = require("tls");

/** The real mongod, once started (after the listeners: a failure before leaves none behind). */
let mongod;

function fail(message) {
  process.stderr.write(`mongod stand-in (TLS): ${message}\n`);
  mongod?.kill("SIGKILL");
  process.exit(2);
}

const [real, ...args] = process.argv.slice(2);
/** Removes `name value` (or `name=value`) from args and returns the value. */
function take(name) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args.splice(i, 2)[1];
    if (args[i].startsWith(`${name}=`)) return args.splice(i, 1)[0].slice(name.length + 1);
  }
  return undefined;
}
function takeFlag(name) {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}

const mode = take("--tlsMode");
const certificateKeyFile = take("--tlsCertificateKeyFile");
const caFile = take("--tlsCAFile");
const withoutCertificates = takeFlag("--tlsAllowConnectionsWithoutCertificates");
if (!["requireTLS", "preferTLS", "allowTLS"].includes(mode)) fail(`--tlsMode ${mode}: expected requireTLS, preferTLS or allowTLS`);
if (!certificateKeyFile) fail(`--tlsMode ${mode} needs --tlsCertificateKeyFile`);
const bindAll = takeFlag("--bind_ip_all");
const bindIp = take("--bind_ip");
const port = Number(take("--port") ?? 27017);
// mongod's default without either: localhost only.
const hosts = bindAll ? ["0.0.0.0"] : (bindIp ?? "127.0.0.1").split(",").filter((h) => !h.startsWith("/"));

const pem = fs.readFileSync(certificateKeyFile, "utf8");
const serving = { cert: pem, key: pem, ca: caFile ? fs.readFileSync(caFile, "utf8") : undefined, minVersion: "TLSv1.2" };
const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), "mongod-tls-"));
const socket = path.join(socketDir, `mongodb-${port}.sock`);

/** Starts the real mongod on its socket, once every listener is up. */
function startMongod() {
  mongod = spawn(real, [...args, "--port", String(port), "--bind_ip", socket], { stdio: "inherit" });
  for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => mongod.kill(signal));
  mongod.on("exit", (code, signal) => {
    fs.rmSync(socketDir, { recursive: true, force: true });
    process.exit(code ?? (signal ? 128 + os.constants.signals[signal] : 1));
  });
}

/** Both ways between a client and a unix socket (mongod's, or the TLS server's), `first` sent ahead. */
function pipeTo(client, first, target) {
  const upstream = net.connect(target);
  if (first) upstream.write(first);
  client.pipe(upstream).pipe(client);
  const close = () => (client.destroy(), upstream.destroy());
  client.on("error", close);
  upstream.on("error", close);
  client.on("close", close);
  upstream.on("close", close);
}

// TLS is served on a socket of its own: a TLS connection, once its first bytes are read, is piped
// there as it is (wrapping the read socket in a TLSSocket would need a JS stream, which Node 18's
// JSStreamSocket fails on at close).
const tlsSocket = path.join(socketDir, "tls.sock");
const tlsServer = tls.createServer({ ...serving, requestCert: true, rejectUnauthorized: !withoutCertificates }, (secure) => {
  // A certificate, when one is presented, must chain to the CA.
  const peer = secure.getPeerCertificate();
  if (peer && Object.keys(peer).length > 0 && !secure.authorized) return secure.destroy();
  pipeTo(secure, undefined, socket);
});
tlsServer.listen(tlsSocket);

/**
 * What only a member sends first: an isMaster carrying internalClient, replica-set isSelf's
 * `_isSelf`, or (with a keyfile) the SCRAM start of its login as __system, which needs the key.
 */
const MEMBER_FIRST = [Buffer.from("\x03internalClient\x00", "latin1"), Buffer.from("\x10_isSelf\x00", "latin1"), Buffer.from("n,,n=__system,", "latin1")];

function accept(raw) {
  let buffered = Buffer.alloc(0);
  const onData = (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    // A TLS handshake record (0x16, version 3.x); a wire message's first byte is its length's lowest.
    if (buffered.length < 2) return;
    if (buffered[0] === 0x16 && buffered[1] === 0x03) {
      // A TLS ClientHello.
      raw.off("data", onData);
      return pipeTo(raw, buffered, tlsSocket);
    }
    // Clear: wait for the whole first message (its length is the header's first int32).
    if (buffered.length < 4 || buffered.length < Math.min(buffered.readInt32LE(0), 64 * 1024)) return;
    raw.off("data", onData);
    if (mode === "requireTLS" && !MEMBER_FIRST.some((marker) => buffered.includes(marker))) return raw.destroy();
    pipeTo(raw, buffered, socket);
  };
  raw.on("data", onData);
  raw.on("error", () => raw.destroy());
}

const listening = hosts.map(
  (host) =>
    new Promise((resolve) => {
      const server = net.createServer(accept);
      server.on("error", (error) => fail(`cannot listen on ${host}:${port}: ${error.message}`));
      server.listen(port, host, resolve);
    }),
);
Promise.all([...listening, new Promise((resolve) => tlsServer.once("listening", resolve))]).then(startMongod);
