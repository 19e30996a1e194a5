#!/bin/sh
# Stand-in for the official mongo image's docker-entrypoint.sh in the integration tests: like the
# image, it runs mongod as uid 999 (the image's `mongodb` user), which is why the wrapper must
# hand the keyfile to 999. The image's own init phase (creating the root user) is done by the
# harness beforehand, on member 1 only, as the image would.
exec setpriv --reuid=999 --regid=999 --clear-groups "$@"
