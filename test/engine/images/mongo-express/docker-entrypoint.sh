#!/bin/sh
# /docker-entrypoint.sh of the mongo-express stand-in: `mongo-express` starts the app.
set -eu
if [ "${1:-}" = mongo-express ]; then
  shift
  exec node /app/app.js "$@"
fi
exec "$@"
