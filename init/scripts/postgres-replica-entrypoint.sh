#!/usr/bin/env bash
# Entrypoint of a PostgreSQL streaming replica, run inside the official postgres image (uploaded by
# components/postgres.ts) and, in the integration tests, against the real binaries on the machine.
# It runs as the image's postgres user on both engines (Docker: the container's user; Kubernetes:
# runAsNonRoot), in folders that user may write: it chowns nothing.
#
# First start (no PG_VERSION in PGDATA): wait for the primary, take a base backup through this
# replica's own replication slot into a scratch folder, mark it as a standby and move it into
# place; a backup cut short is thrown away and taken again on the next start. Every start: write
# the replication passfile (libpq wants mode 0600) and run postgres as a hot standby that follows
# the primary through its slot. The password never appears in a command line or in the data folder.
#
# Environment: PGDATA, PRIMARY_HOST, PRIMARY_PORT (5432), PRIMARY_WAIT_SECONDS (120),
# REPLICATION_USER, REPLICATION_PASSWORD_FILE, REPLICATION_SLOT,
# REPLICATION_PASSFILE (/var/run/postgresql/replication.pgpass); HBA_TEMPLATE, HBA_FILE and
# HBA_SCRIPT when pg_hba.conf is written at start (init/scripts/postgres-hba.sh);
# PRIMARY_SSLROOTCERT when the primary takes TLS only: every connection to it (the base backup,
# the streaming) then verifies its certificate and name against that CA (sslmode=verify-full).
# Arguments: the server command, e.g. postgres -c hba_file=...; anything else is run as given.
set -Eeuo pipefail

log() { printf 'replica-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

: "${PGDATA:?PGDATA must be set}"
: "${PRIMARY_HOST:?PRIMARY_HOST must be set}"
: "${REPLICATION_USER:?REPLICATION_USER must be set}"
: "${REPLICATION_PASSWORD_FILE:?REPLICATION_PASSWORD_FILE must be set}"
: "${REPLICATION_SLOT:?REPLICATION_SLOT must be set}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
PRIMARY_WAIT_SECONDS="${PRIMARY_WAIT_SECONDS:-120}"
REPLICATION_PASSFILE="${REPLICATION_PASSFILE:-/var/run/postgresql/replication.pgpass}"

[[ "$REPLICATION_SLOT" =~ ^[a-z0-9_]{1,63}$ ]] || die "REPLICATION_SLOT must be 1-63 of a-z, 0-9 and _ (got '$REPLICATION_SLOT')"
[[ "$PRIMARY_PORT" =~ ^[0-9]+$ ]] || die "PRIMARY_PORT must be a number (got '$PRIMARY_PORT')"
[[ "$PRIMARY_WAIT_SECONDS" =~ ^[0-9]+$ ]] || die "PRIMARY_WAIT_SECONDS must be a number (got '$PRIMARY_WAIT_SECONDS')"
tls_conninfo=""
if [ -n "${PRIMARY_SSLROOTCERT:-}" ]; then
  [ -r "$PRIMARY_SSLROOTCERT" ] || die "cannot read PRIMARY_SSLROOTCERT ($PRIMARY_SSLROOTCERT)"
  # libpq's own variables: pg_isready, pg_basebackup and psql below all verify the primary.
  export PGSSLMODE=verify-full PGSSLROOTCERT="$PRIMARY_SSLROOTCERT"
  tls_conninfo=" sslmode=verify-full sslrootcert=$PRIMARY_SSLROOTCERT"
fi


write_passfile() {
  [ -r "$REPLICATION_PASSWORD_FILE" ] || die "cannot read REPLICATION_PASSWORD_FILE ($REPLICATION_PASSWORD_FILE)"
  local password
  password="$(cat "$REPLICATION_PASSWORD_FILE")"
  [ -n "$password" ] || die "REPLICATION_PASSWORD_FILE ($REPLICATION_PASSWORD_FILE) is empty"
  # .pgpass fields escape \ and : with a backslash.
  password="${password//\\/\\\\}"
  password="${password//:/\\:}"
  (umask 077 && printf '*:*:*:%s:%s\n' "$REPLICATION_USER" "$password" >"$REPLICATION_PASSFILE")
  chmod 600 "$REPLICATION_PASSFILE"
}

wait_for_primary() {
  local deadline=$((SECONDS + PRIMARY_WAIT_SECONDS))
  until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -t 2; do
    if ((SECONDS >= deadline)); then
      # pg_isready says nothing of why; a connection attempt does (a certificate that does not verify).
      local why
      why="$(psql -XAt -c IDENTIFY_SYSTEM "host=$PRIMARY_HOST port=$PRIMARY_PORT user=$REPLICATION_USER replication=true connect_timeout=2" 2>&1 >/dev/null | head -n 3 | tr '\n' ' ')" || true
      die "primary $PRIMARY_HOST:$PRIMARY_PORT did not accept connections within ${PRIMARY_WAIT_SECONDS}s${why:+: $why}"
    fi
    sleep 1
  done
}

base_backup() {
  local scratch="$PGDATA.basebackup" errors
  # PGDATA may exist as an empty folder; anything else in it is not ours to delete.
  if [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
    die "PGDATA ($PGDATA) has files but no PG_VERSION; move them away first"
  fi
  errors="$(mktemp)"
  rm -rf "$scratch"
  wait_for_primary
  log "taking a base backup from $PRIMARY_HOST:$PRIMARY_PORT through slot $REPLICATION_SLOT"
  local common=(--pgdata="$scratch" --host="$PRIMARY_HOST" --port="$PRIMARY_PORT" --username="$REPLICATION_USER"
    --no-password --wal-method=stream --checkpoint=fast --slot="$REPLICATION_SLOT")
  if ! pg_basebackup "${common[@]}" 2>"$errors"; then
    cat "$errors" >&2
    # The slot normally exists (Pulumi creates it before the replica); create it if someone dropped it.
    grep -q 'does not exist' "$errors" || die "base backup failed"
    rm -rf "$scratch"
    log "slot $REPLICATION_SLOT is missing on the primary; creating it with the base backup"
    pg_basebackup "${common[@]}" --create-slot || die "base backup failed"
  fi
  rm -f "$errors"
  touch "$scratch/standby.signal"
  chmod 700 "$scratch"
  if [ -d "$PGDATA" ]; then rmdir "$PGDATA"; fi
  mv "$scratch" "$PGDATA"
  log "base backup complete"
}

# A standby copied from another cluster (the primary's volume was recreated, this one kept) can never
# follow this primary. Say so plainly. Checked only when the primary answers at once: a replica must
# still start, and serve reads, while its primary is down.
check_same_cluster() {
  pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -t 2 || return 0
  local ours theirs
  ours="$(pg_controldata "$PGDATA" | sed -n 's/^Database system identifier:[[:space:]]*//p')"
  theirs="$(psql -XAt -c IDENTIFY_SYSTEM "host=$PRIMARY_HOST port=$PRIMARY_PORT user=$REPLICATION_USER replication=true" | cut -d'|' -f1)" || return 0
  if [ -n "$ours" ] && [ -n "$theirs" ] && [ "$ours" != "$theirs" ]; then
    die "this replica's data is a copy of database system $ours, but the primary is system $theirs (its data was recreated); remove this replica's volume so it takes a new base backup"
  fi
}

if [ "${1:-}" = postgres ]; then
  if [ -n "${HBA_TEMPLATE:-}" ]; then "${HBA_SCRIPT:?HBA_SCRIPT must be set with HBA_TEMPLATE}"; fi
  write_passfile
  export PGPASSFILE="$REPLICATION_PASSFILE"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then base_backup; else check_same_cluster; fi
  # A replica stays a standby on every start, even if someone removed the signal file.
  touch "$PGDATA/standby.signal"
  conninfo="host=$PRIMARY_HOST port=$PRIMARY_PORT user=$REPLICATION_USER passfile=$REPLICATION_PASSFILE application_name=$REPLICATION_SLOT$tls_conninfo"
  exec "$@" -c "primary_conninfo=$conninfo" -c "primary_slot_name=$REPLICATION_SLOT" -c default_transaction_read_only=on
fi
exec "$@"
