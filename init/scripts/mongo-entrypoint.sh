#!/bin/bash
# Wrapper entrypoint of every MongoDB member (uploaded by Pulumi, see components/mongo.ts).
#
# mongod refuses a keyfile that others can read. Both engines run this as the image's mongodb user
# (uid 999). On Kubernetes the key comes from a Secret with mode 0440 (group-readable: mongod
# refuses it); on Docker it is Pulumi's upload, already 999's with mode 0400. Either way it is copied
# to MONGO_KEYFILE, in a scratch folder of the member's (Docker: tmpfs; Kubernetes: an emptyDir that
# is not ours, so the folder is left as it is), owned by 999 with mode 0400; then the image's
# entrypoint starts mongod.
set -euo pipefail

: "${MONGO_KEYFILE_SOURCE:?MONGO_KEYFILE_SOURCE must name the uploaded keyfile}"
: "${MONGO_KEYFILE:?MONGO_KEYFILE must name where mongod reads the keyfile}"

if [ ! -s "$MONGO_KEYFILE_SOURCE" ]; then
  echo "trading-mongo-entrypoint: keyfile $MONGO_KEYFILE_SOURCE is missing or empty" >&2
  exit 1
fi
keyfile_dir="$(dirname "$MONGO_KEYFILE")"
# Written under a temporary name and renamed: a restart never sees a half-written key. No chown,
# and no chmod of a folder someone else made. The temporary copy is removed first: one left by an
# earlier start is read-only to us.
[ -d "$keyfile_dir" ] || install -d -m 0700 "$keyfile_dir"
rm -f "$MONGO_KEYFILE.tmp"
install -m 0400 "$MONGO_KEYFILE_SOURCE" "$MONGO_KEYFILE.tmp"
mv -f "$MONGO_KEYFILE.tmp" "$MONGO_KEYFILE"

# No MONGO_INITDB_ROOT_*: the image's init phase is skipped, and the init hook creates root through
# __system with this key (a root-password rotation restarts no member).
exec docker-entrypoint.sh "$@"
