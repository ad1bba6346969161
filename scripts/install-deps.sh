#!/usr/bin/env bash
# Installs the C libraries dpone links against (Debian 12). Idempotent: installs only what is missing.
set -euo pipefail
# odbc-postgresql, libsqliteodbc, tdsodbc and freetds-bin: the ODBC drivers the tests load (scripts/odbc.sh).
packages=(pkg-config time curl libpq-dev librdkafka-dev unixodbc-dev libcurl4-openssl-dev libzstd-dev liblz4-dev libjemalloc-dev
  odbc-postgresql libsqliteodbc tdsodbc freetds-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
