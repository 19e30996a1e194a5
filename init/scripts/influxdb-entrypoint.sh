#!/usr/bin/env bash
# Wrapper entrypoint of InfluxDB (uploaded by Pulumi, see components/influxdb.ts), run before the
# official image's /entrypoint.sh, as the image's influxdb user on both engines (Docker: the
# container's user; Kubernetes: runAsNonRoot, fsGroup), which owns the bolt file it made.
#
# No setup mode: the init hook onboards a new server through the API (the image's setup mode puts
# the password and the operator token on `influx setup`'s command line, and the token in clear in
# INFLUX_CONFIGS_PATH on the config volume; such a file left by an earlier release is removed here,
# as nothing reads it). A volume kept by
# `pulumi destroy` (retainData) and found again by the next `pulumi up` holds the admin password of
# the stack that made it, while the new stack generated a new one. So the declared password wins
# on every start, through InfluxDB's privileged local path: `influxd recovery user update`, which
# writes the bolt file directly and runs only while influxd is stopped, as here. The init hook then
# signs in with that password (the old operator token is unknown to the new stack). A hash of the
# applied password is kept beside the bolt file, so a start with an unchanged password skips this.
#
# Environment: INFLUXDB_ADMIN_USER, INFLUXDB_ADMIN_PASSWORD_FILE,
# INFLUXD_BOLT_PATH (/var/lib/influxdb2/influxd.bolt), INFLUXDB_IMAGE_ENTRYPOINT (/entrypoint.sh),
# INFLUX_CONFIGS_PATH (the image's: /etc/influxdb2/influx-configs).
# Arguments: handed to the image's entrypoint unchanged.
set -Eeuo pipefail

log() { printf 'influxdb-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

: "${INFLUXDB_ADMIN_USER:?INFLUXDB_ADMIN_USER must be set}"
: "${INFLUXDB_ADMIN_PASSWORD_FILE:?INFLUXDB_ADMIN_PASSWORD_FILE must be set}"
bolt="${INFLUXD_BOLT_PATH:-/var/lib/influxdb2/influxd.bolt}"
marker="$(dirname "$bolt")/.trading-db-stack-admin-password.sha256"

[ -s "$INFLUXDB_ADMIN_PASSWORD_FILE" ] || die "INFLUXDB_ADMIN_PASSWORD_FILE ($INFLUXDB_ADMIN_PASSWORD_FILE) is missing or empty"
wanted="$(sha256sum <"$INFLUXDB_ADMIN_PASSWORD_FILE" | cut -d' ' -f1)"

if [ -f "$bolt" ] && [ "$(cat "$marker" 2>/dev/null)" != "$wanted" ]; then
  log "applying the declared password of $INFLUXDB_ADMIN_USER to the existing bolt file"
  # The CLI takes the password as an argument only; it lives as long as this one command, inside the container.
  influxd recovery user update --bolt-path "$bolt" --username "$INFLUXDB_ADMIN_USER" \
    --password "$(cat "$INFLUXDB_ADMIN_PASSWORD_FILE")" >/dev/null \
    || die "influxd recovery user update failed"
fi
# On an empty volume the init hook's onboarding sets this same password.
mkdir -p "$(dirname "$bolt")"
printf '%s\n' "$wanted" >"$marker"
chmod 600 "$marker"

if [ -n "${INFLUX_CONFIGS_PATH:-}" ] && [ -f "$INFLUX_CONFIGS_PATH" ]; then
  rm -f "$INFLUX_CONFIGS_PATH" || die "cannot remove $INFLUX_CONFIGS_PATH, which holds an operator token in clear"
  log "removed $INFLUX_CONFIGS_PATH: the CLI config an earlier setup mode left, with its operator token in clear"
fi

exec "${INFLUXDB_IMAGE_ENTRYPOINT:-/entrypoint.sh}" "$@"
