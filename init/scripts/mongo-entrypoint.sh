#!/bin/bash
# Wrapper entrypoint of every MongoDB member (uploaded by Pulumi, see components/mongo.ts).
#
# mongod refuses a keyfile that others can read, and the official image drops to uid 999 before
# starting mongod but chowns only /data/db and /data/configdb. The uploaded key is root-owned, so
# copy it to MONGO_KEYFILE, owned by 999 with mode 0400, then hand over to the image's entrypoint.
# Started as the image's user itself (Kubernetes: runAsNonRoot, fsGroup), the key comes from a Secret
# with mode 0440 (group-readable: mongod refuses it) and MONGO_KEYFILE's folder is an emptyDir that
# is not ours: the copy is then owned by whoever runs this, and the folder is left as it is.
set -euo pipefail

: "${MONGO_KEYFILE_SOURCE:?MONGO_KEYFILE_SOURCE must name the uploaded keyfile}"
: "${MONGO_KEYFILE:?MONGO_KEYFILE must name where mongod reads the keyfile}"
owner="${MONGO_KEYFILE_OWNER:-999:999}"

if [ ! -s "$MONGO_KEYFILE_SOURCE" ]; then
  echo "trading-mongo-entrypoint: keyfile $MONGO_KEYFILE_SOURCE is missing or empty" >&2
  exit 1
fi
keyfile_dir="$(dirname "$MONGO_KEYFILE")"
# Written under a temporary name and renamed: a restart never sees a half-written key.
if [ "$(id -u)" = "0" ]; then
  install -d -m 0700 -o "${owner%%:*}" -g "${owner##*:}" "$keyfile_dir"
  install -m 0400 -o "${owner%%:*}" -g "${owner##*:}" "$MONGO_KEYFILE_SOURCE" "$MONGO_KEYFILE.tmp"
else
  # Not root: no chown, and no chmod of a folder someone else made (the emptyDir). The temporary
  # copy is removed first: one left by an earlier start is read-only to us.
  [ -d "$keyfile_dir" ] || install -d -m 0700 "$keyfile_dir"
  rm -f "$MONGO_KEYFILE.tmp"
  install -m 0400 "$MONGO_KEYFILE_SOURCE" "$MONGO_KEYFILE.tmp"
fi
mv -f "$MONGO_KEYFILE.tmp" "$MONGO_KEYFILE"

# No MONGO_INITDB_ROOT_*: the image's init phase is skipped, and the init hook creates root through
# __system with this key (a root-password rotation restarts no member).
exec docker-entrypoint.sh "$@"
