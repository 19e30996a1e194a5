#!/usr/bin/env node
// mongosh of the stand-in image (test/engine/images/mongo/Dockerfile): what the official
// entrypoint and the stack's healthcheck send, on the MongoDB Node driver.
//   mongosh [--host H] [--port P] [--tls [--tlsCAFile F] [--tlsAllowInvalidHostnames]] [--quiet] [--norc]
//           [--nodb] [DB] [--eval JS] [FILE.js]
// JS without --eval or a file is read from stdin. The script runs synchronously as in mongosh:
// each database call runs in a child process of this script and its reply is returned.
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const vm = require("vm");

if (process.argv[2] === "--run-command") {
  // Child: one command, its reply as Extended JSON on stdout.
  const { MongoClient, BSON } = require("mongodb");
  const [uri, dbName, command] = process.argv.slice(3);
  // TLS options travel in the URI (tls, tlsCAFile, tlsAllowInvalidHostnames), as mongosh passes them to the driver.
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000 });
  client
    .db(dbName)
    .command(BSON.EJSON.parse(command))
    .then((reply) => process.stdout.write(BSON.EJSON.stringify(reply)))
    .catch((error) => {
      process.stdout.write(BSON.EJSON.stringify({ ok: 0, errmsg: error.message, code: error.code }));
    })
    .finally(() => client.close());
  return;
}

const args = process.argv.slice(2);
let host = "127.0.0.1";
let port = "27017";
let dbName = "test";
let script;
let nodb = false;
const tls = new URLSearchParams();
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--tls") tls.set("tls", "true");
  else if (arg === "--tlsCAFile") tls.set("tlsCAFile", args[++i]);
  else if (arg === "--tlsAllowInvalidHostnames") tls.set("tlsAllowInvalidHostnames", "true");
  else if (arg === "--host") host = args[++i];
  else if (arg === "--port") port = args[++i];
  else if (arg === "--eval") script = args[++i];
  else if (arg === "--nodb") nodb = true;
  else if (arg === "--quiet" || arg === "--norc") continue;
  else if (arg.startsWith("--")) {
    process.stderr.write(`mongosh stand-in: unsupported option ${arg}\n`);
    process.exit(2);
  } else if (arg.endsWith(".js")) script = fs.readFileSync(arg, "utf8");
  else dbName = arg;
}
if (script === undefined) script = fs.readFileSync(0, "utf8");
if (tls.size > 0 && !tls.has("tls")) {
  process.stderr.write("mongosh stand-in: --tlsCAFile and --tlsAllowInvalidHostnames need --tls\n");
  process.exit(2);
}
const uri = `mongodb://${host}:${port}/?directConnection=true${tls.size > 0 ? `&${tls}` : ""}`;
const { BSON } = require("mongodb");

function command(name, cmd) {
  if (nodb) throw new Error("no database connection (--nodb)");
  const out = execFileSync(process.execPath, [__filename, "--run-command", uri, name, BSON.EJSON.stringify(cmd)], { encoding: "utf8" });
  const reply = BSON.EJSON.parse(out, { relaxed: true });
  if (reply.ok !== 1) {
    const error = new Error(reply.errmsg || `command failed: ${JSON.stringify(cmd)}`);
    error.code = reply.code;
    throw error;
  }
  return reply;
}

function database(name) {
  return {
    getName: () => name,
    getSiblingDB: (other) => database(other),
    runCommand: (cmd) => command(name, cmd),
    adminCommand: (cmd) => command("admin", cmd),
    createUser: (user) => {
      const { user: userName, ...rest } = user;
      command(name, { createUser: userName, ...rest });
      return { user: userName };
    },
  };
}

class Quit extends Error {
  constructor(code) {
    super("quit");
    this.exitCode = code;
  }
}
const context = {
  db: database(dbName),
  quit: (code = 0) => {
    throw new Quit(code);
  },
  print: (...values) => console.log(...values),
  printjson: (value) => console.log(BSON.EJSON.stringify(value, undefined, 2, { relaxed: true })),
};
try {
  // A connection check, as mongosh makes one before it runs anything.
  if (!nodb) command("admin", { ping: 1 });
  vm.runInNewContext(script, context, { filename: "mongosh-stand-in" });
  process.exit(0);
} catch (error) {
  if (error instanceof Quit) process.exit(error.exitCode);
  process.stderr.write(`MongoServerError: ${error.message}\n`);
  process.exit(1);
}
