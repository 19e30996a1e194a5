#!/usr/bin/env bash
# Wrapper entrypoint of the PostgreSQL primary (uploaded by Pulumi, see components/postgres.ts),
# run before the official image's docker-entrypoint.sh, as the image's postgres user on both engines
# (Docker: the container's user, the volume the postgres-owned copy of the image's folder;
# Kubernetes: runAsNonRoot, fsGroup, the volume's root root-owned but group-writable). So it only
# creates what it needs and chowns nothing, and the image's entrypoint skips its root-only setup.
#
# An empty volume: the wrapper makes the cluster with initdb, which reads the password file itself
# (the image's entrypoint would export the password into the server's environment). A volume kept by
# `pulumi destroy` (retainData) and found again by the next `pulumi up` holds the superuser
# password of the stack that made it, while the new stack generated a new one: every hook would
# fail to log in. So the declared password wins on every start, through the server's privileged
# local path: a temporary server listening on no TCP port, the postgres OS user over the Unix
# socket (the data folder's pg_hba.conf, where initdb set local connections to peer through
# POSTGRES_INITDB_ARGS), ALTER ROLE, stop. A hash of the applied password is kept beside the
# data folder, so a start with an unchanged password skips all that.
#
# Environment: PGDATA, POSTGRES_USER (postgres), POSTGRES_PASSWORD_FILE; HBA_TEMPLATE, HBA_FILE and
# HBA_SCRIPT (pg_hba.conf written at start, init/scripts/postgres-hba.sh). Arguments: the server
# command, handed to docker-entrypoint.sh unchanged.
set -Eeuo pipefail

log() { printf 'primary-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

: "${PGDATA:?PGDATA must be set}"
: "${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE must be set}"
superuser="${POSTGRES_USER:-postgres}"
marker="$(dirname "$PGDATA")/.trading-db-stack-superuser-password.sha256"

[ -s "$POSTGRES_PASSWORD_FILE" ] || die "POSTGRES_PASSWORD_FILE ($POSTGRES_PASSWORD_FILE) is missing or empty"
wanted="$(sha256sum <"$POSTGRES_PASSWORD_FILE" | cut -d' ' -f1)"

# PGDATA is a folder per major (/var/lib/postgresql/18/docker): a server of another major than the
# data's would initdb an empty cluster beside it, and the hooks would seed that. Refuse instead.
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  volume="$(dirname "$(dirname "$PGDATA")")"
  this_major="$(basename "$(dirname "$PGDATA")")"
  for other in "$volume"/*/*/PG_VERSION; do
    [ -s "$other" ] || continue
    die "the volume holds the data of PostgreSQL $(cat "$other") in $(dirname "$other"), and this server is PostgreSQL $this_major: it would start an empty cluster beside it. Set postgresImage back to a $(cat "$other").x tag, or move the data to PostgreSQL $this_major first (docs/high-availability.md, \"PostgreSQL major on Docker\"); nothing was changed"
  done
fi

mkdir -p "$(dirname "$PGDATA")"

# A new cluster is made here, not by the image's entrypoint: that one exports the password as
# POSTGRES_PASSWORD, which then stays in the server's environment for as long as it runs. initdb
# reads it from the file itself; the image's entrypoint then finds the cluster made and only starts it.
created=false
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  log "creating the cluster in $PGDATA"
  # POSTGRES_INITDB_ARGS is a list of flags, split as the image splits it.
  # shellcheck disable=SC2086
  initdb --username="$superuser" --pwfile="$POSTGRES_PASSWORD_FILE" -D "$PGDATA" ${POSTGRES_INITDB_ARGS:-} || die "initdb failed; see its output above"
  created=true
fi

if ! $created && [ "$(cat "$marker" 2>/dev/null)" != "$wanted" ]; then
  log "applying the declared password of $superuser to the existing cluster"
  # Stale after a crash: the temporary server would refuse to start. The real server is not running.
  rm -f "$PGDATA/postmaster.pid"
  # The temporary server's own log goes to this container's log.
  pg_ctl -D "$PGDATA" -w -t 300 -o "-c listen_addresses='' -c log_statement=none" start \
    || die "the temporary server did not start; see its log above"
  # psql reads the password from the file itself (\set with backquotes): it is never on a command line.
  psql -X -q -v ON_ERROR_STOP=1 -v user="$superuser" -d postgres <<EOSQL || { pg_ctl -D "$PGDATA" -m fast -w stop; die "ALTER ROLE failed"; }
\\set password \`cat "$POSTGRES_PASSWORD_FILE"\`
ALTER ROLE :"user" WITH PASSWORD :'password';
EOSQL
  pg_ctl -D "$PGDATA" -m fast -w stop || die "the temporary server did not stop; see its log above"
fi
# A cluster made above has this same password.
printf '%s\n' "$wanted" >"$marker"
chmod 600 "$marker"

# The access rules, with the addresses only the running container knows.
if [ -n "${HBA_TEMPLATE:-}" ]; then "${HBA_SCRIPT:?HBA_SCRIPT must be set with HBA_TEMPLATE}"; fi

# Nothing left for the image's entrypoint to set a password for: it would only export the file's
# contents into the server's environment.
unset POSTGRES_PASSWORD POSTGRES_PASSWORD_FILE
exec docker-entrypoint.sh "$@"
