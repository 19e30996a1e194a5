#!/bin/sh
# Stand-in for the official mongo image's docker-entrypoint.sh in the integration tests: like the
# image, started as root it runs mongod as uid 999 (the image's `mongodb` user), which is why the
# wrapper must hand the keyfile to 999; started as 999 already (Kubernetes) it runs mongod as it is.
# The image's own init phase does not run: no member is given a root user (the hook creates it).
if [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid=999 --regid=999 --clear-groups "$@"
fi
exec "$@"
