#!/bin/sh
# Wrapper entrypoint of mongo-express (uploaded by Pulumi, see components/admin-tools.ts).
#
# mongo-express takes its connection string and session secrets from environment variables only;
# secrets must not sit in the container's configuration, where `docker inspect` shows them. So
# they are uploaded as files, and for each VAR_FILE listed here this exports VAR with the file's
# content, for this process and what it starts only, then runs the image's own entrypoint.
set -eu

for var in ME_CONFIG_MONGODB_URL ME_CONFIG_SITE_SESSIONSECRET ME_CONFIG_SITE_COOKIESECRET; do
  file_var="${var}_FILE"
  eval "file=\${$file_var:-}"
  [ -n "$file" ] || continue
  if [ ! -s "$file" ]; then
    echo "trading-mongo-express-entrypoint: $file_var names $file, which is missing or empty" >&2
    exit 1
  fi
  value="$(cat "$file")"
  export "$var=$value"
  unset "$file_var"
done

exec "$@"
