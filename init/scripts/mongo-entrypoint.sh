#!/bin/bash
# Wrapper entrypoint of every MongoDB member (uploaded by Pulumi, see components/mongo.ts).
#
# mongod refuses a keyfile that others can read, and the official image drops to uid 999 before
# starting mongod but chowns only /data/db and /data/configdb. The uploaded key is root-owned, so
# copy it to MONGO_KEYFILE, owned by 999 with mode 0400, then hand over to the image's entrypoint.
set -euo pipefail

: "${MONGO_KEYFILE_SOURCE:?MONGO_KEYFILE_SOURCE must name the uploaded keyfile}"
: "${MONGO_KEYFILE:?MONGO_KEYFILE must name where mongod reads the keyfile}"
owner="${MONGO_KEYFILE_OWNER:-999:999}"

if [ ! -s "$MONGO_KEYFILE_SOURCE" ]; then
  echo "trading-mongo-entrypoint: keyfile $MONGO_KEYFILE_SOURCE is missing or empty" >&2
  exit 1
fi
if [ "$(id -u)" != "0" ]; then
  echo "trading-mongo-entrypoint: must start as root to hand the keyfile to uid ${owner%%:*}" >&2
  exit 1
fi

keyfile_dir="$(dirname "$MONGO_KEYFILE")"
install -d -m 0700 -o "${owner%%:*}" -g "${owner##*:}" "$keyfile_dir"
# Written under a temporary name and renamed: a restart never sees a half-written key.
install -m 0400 -o "${owner%%:*}" -g "${owner##*:}" "$MONGO_KEYFILE_SOURCE" "$MONGO_KEYFILE.tmp"
mv -f "$MONGO_KEYFILE.tmp" "$MONGO_KEYFILE"

exec docker-entrypoint.sh "$@"
