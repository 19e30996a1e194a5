#!/bin/sh
# Wrapper entrypoint of pgAdmin (uploaded by Pulumi, see components/admin-tools.ts).
#
# servers.json names a PassFile; in server mode pgAdmin reads it from the login's storage folder,
# and libpq ignores a passfile that others can read. The mounted passfile is read-only (Docker's
# upload is 5050's with mode 0400; Kubernetes' Secret file is group-readable), so copy it there,
# owned by the user pgAdmin runs as (5050), mode 0600, then hand over to the image's entrypoint.
set -eu

: "${PGPASS_SOURCE:?PGPASS_SOURCE must name the uploaded passfile}"
: "${PGPASS_TARGET:?PGPASS_TARGET must name where pgAdmin reads the passfile}"

if [ ! -s "$PGPASS_SOURCE" ]; then
  echo "trading-pgadmin-entrypoint: passfile $PGPASS_SOURCE is missing or empty" >&2
  exit 1
fi

umask 077
mkdir -p "$(dirname "$PGPASS_TARGET")"
# Written under a temporary name and renamed: pgAdmin never reads a half-written file.
cp "$PGPASS_SOURCE" "$PGPASS_TARGET.tmp"
chmod 0600 "$PGPASS_TARGET.tmp"
mv -f "$PGPASS_TARGET.tmp" "$PGPASS_TARGET"

# With tls: the stack's CA beside it, where servers.json's sslrootcert names it (file paths are
# read relative to the same storage folder).
if [ -n "${PGADMIN_TLS_CA_SOURCE:-}" ]; then
  cp "$PGADMIN_TLS_CA_SOURCE" "$(dirname "$PGPASS_TARGET")/tls-ca.crt.tmp"
  chmod 0600 "$(dirname "$PGPASS_TARGET")/tls-ca.crt.tmp"
  mv -f "$(dirname "$PGPASS_TARGET")/tls-ca.crt.tmp" "$(dirname "$PGPASS_TARGET")/tls-ca.crt"
fi

exec "${PGADMIN_IMAGE_ENTRYPOINT:-/entrypoint.sh}" "$@"
