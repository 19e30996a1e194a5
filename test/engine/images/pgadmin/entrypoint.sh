#!/bin/sh
# /entrypoint.sh of the pgAdmin stand-in (see the Dockerfile): refuses what pgAdmin's entrypoint
# refuses that the stack could get wrong, then answers /misc/ping on PGADMIN_LISTEN_PORT (80 by default).
set -eu
fail() { echo "pgadmin stand-in: $*" >&2; exit 1; }
[ "$(id -u)" = 5050 ] || fail "runs as uid 5050, not $(id -u)"
[ -n "${PGADMIN_DEFAULT_EMAIL:-}" ] || fail "PGADMIN_DEFAULT_EMAIL is not set"
[ -s "${PGADMIN_DEFAULT_PASSWORD_FILE:-/nonexistent}" ] || fail "PGADMIN_DEFAULT_PASSWORD_FILE is missing or empty"
python3 -c 'import json, sys; servers = json.load(open(sys.argv[1]))["Servers"]; assert servers, "no servers"' "${PGADMIN_SERVER_JSON_FILE:?PGADMIN_SERVER_JSON_FILE is not set}" \
  || fail "$PGADMIN_SERVER_JSON_FILE is not a servers.json with servers"
mkdir -p /tmp/www/misc
printf 'PING' >/tmp/www/misc/ping
exec python3 -m http.server "${PGADMIN_LISTEN_PORT:-80}" --bind 0.0.0.0 --directory /tmp/www
