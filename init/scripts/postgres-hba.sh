#!/usr/bin/env bash
# Writes the server's pg_hba.conf from its template (uploaded by Pulumi, see
# components/postgres-spec.ts pgHbaTemplate), filling in the two addresses only the running
# container knows. Called by the primary's and the replicas' entrypoints before the server starts.
#
# - @HOST_GATEWAY@: the gateway of the container's default route, i.e. the host's address on the
#   app network. A connection to a port published on the host's 127.0.0.1 arrives from there (Docker's
#   proxy, or its hairpin NAT), so this is where the hooks and `npm run verify` come from, and no
#   container can take that address. The superuser may log in from there and from inside the server only.
# - @DB_NETWORK@: the subnet of the container's other network, the internal one (no gateway) that only
#   the stack's own containers join: the one place replication is accepted from.
#
# Environment: HBA_TEMPLATE, HBA_FILE; PROC_NET_ROUTE (/proc/net/route) for the tests.
set -Eeuo pipefail

die() { printf 'postgres-hba: error: %s\n' "$*" >&2; exit 1; }

: "${HBA_TEMPLATE:?HBA_TEMPLATE must be set}"
: "${HBA_FILE:?HBA_FILE must be set}"
routes="${PROC_NET_ROUTE:-/proc/net/route}"

# /proc/net/route writes IPv4 addresses as 8 hex digits, least significant byte first.
address() { printf '%d.%d.%d.%d' "0x${1:6:2}" "0x${1:4:2}" "0x${1:2:2}" "0x${1:0:2}"; }
prefix_length() {
  local mask=$((16#$1)) bits=0
  while ((mask)); do bits=$((bits + (mask & 1))); mask=$((mask >> 1)); done
  printf '%d' "$bits"
}

gateway="" gateway_interface=""
while read -r interface destination via _ _ _ _ _mask _; do
  if [ "$destination" = 00000000 ] && [ "$via" != 00000000 ]; then gateway="$(address "$via")" gateway_interface="$interface"; fi
done < <(tail -n +2 "$routes")
[ -n "$gateway" ] || die "no default route in $routes: the container must be on the stack's app network"

db_network=""
while read -r interface destination via _ _ _ _ mask _; do
  if [ "$interface" != "$gateway_interface" ] && [ "$destination" != 00000000 ] && [ "$via" = 00000000 ]; then
    db_network="$(address "$destination")/$(prefix_length "$mask")"
  fi
done < <(tail -n +2 "$routes")
[ -n "$db_network" ] || die "no second network in $routes: the container must be on the stack's internal network too"

[ -r "$HBA_TEMPLATE" ] || die "cannot read HBA_TEMPLATE ($HBA_TEMPLATE)"
mkdir -p "$(dirname "$HBA_FILE")"
rendered="$(sed -e "s|@HOST_GATEWAY@|$gateway/32|g" -e "s|@DB_NETWORK@|$db_network|g" "$HBA_TEMPLATE")"
printf '%s\n' "$rendered" >"$HBA_FILE.tmp"
chmod 644 "$HBA_FILE.tmp"
mv "$HBA_FILE.tmp" "$HBA_FILE"
printf 'postgres-hba: superuser from %s/32 and inside the server; replication from %s\n' "$gateway" "$db_network" >&2
