#!/usr/bin/env bash
# Wrapper entrypoint of InfluxDB (uploaded by Pulumi, see components/influxdb.ts), run before the
# official image's /entrypoint.sh, as the image's influxdb user on both engines (Docker: the
# container's user; Kubernetes: runAsNonRoot, fsGroup), which owns the bolt file it made.
#
# Setup mode (DOCKER_INFLUXDB_INIT_*) runs only on an empty bolt file. A volume kept by
# `pulumi destroy` (retainData) and found again by the next `pulumi up` holds the admin password of
# the stack that made it, while the new stack generated a new one. So the declared password wins
# on every start, through InfluxDB's privileged local path: `influxd recovery user update`, which
# writes the bolt file directly and runs only while influxd is stopped, as here. The init hook then
# signs in with that password (the old operator token is unknown to the new stack). A hash of the
# applied password is kept beside the bolt file, so a start with an unchanged password skips this.
#
# Environment: DOCKER_INFLUXDB_INIT_USERNAME, DOCKER_INFLUXDB_INIT_PASSWORD_FILE,
# INFLUXD_BOLT_PATH (/var/lib/influxdb2/influxd.bolt), INFLUXDB_IMAGE_ENTRYPOINT (/entrypoint.sh).
# Arguments: handed to the image's entrypoint unchanged.
set -Eeuo pipefail

log() { printf 'influxdb-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

: "${DOCKER_INFLUXDB_INIT_USERNAME:?DOCKER_INFLUXDB_INIT_USERNAME must be set}"
: "${DOCKER_INFLUXDB_INIT_PASSWORD_FILE:?DOCKER_INFLUXDB_INIT_PASSWORD_FILE must be set}"
bolt="${INFLUXD_BOLT_PATH:-/var/lib/influxdb2/influxd.bolt}"
marker="$(dirname "$bolt")/.trading-db-stack-admin-password.sha256"

[ -s "$DOCKER_INFLUXDB_INIT_PASSWORD_FILE" ] || die "DOCKER_INFLUXDB_INIT_PASSWORD_FILE ($DOCKER_INFLUXDB_INIT_PASSWORD_FILE) is missing or empty"
wanted="$(sha256sum <"$DOCKER_INFLUXDB_INIT_PASSWORD_FILE" | cut -d' ' -f1)"

if [ -f "$bolt" ] && [ "$(cat "$marker" 2>/dev/null)" != "$wanted" ]; then
  log "applying the declared password of $DOCKER_INFLUXDB_INIT_USERNAME to the existing bolt file"
  # The CLI takes the password as an argument only; it lives as long as this one command, inside the container.
  influxd recovery user update --bolt-path "$bolt" --username "$DOCKER_INFLUXDB_INIT_USERNAME" \
    --password "$(cat "$DOCKER_INFLUXDB_INIT_PASSWORD_FILE")" >/dev/null \
    || die "influxd recovery user update failed"
fi
# On an empty volume setup mode sets this same password.
mkdir -p "$(dirname "$bolt")"
printf '%s\n' "$wanted" >"$marker"
chmod 600 "$marker"

exec "${INFLUXDB_IMAGE_ENTRYPOINT:-/entrypoint.sh}" "$@"
