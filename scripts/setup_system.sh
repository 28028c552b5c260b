#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages citymap needs, only those that are missing.
#   scripts/setup_system.sh run    what the service needs (Python venv, SpatiaLite)
#   scripts/setup_system.sh test   plus what the tests need (PostgreSQL + PostGIS, Chromium, CJK fonts)
set -euo pipefail
want=(python3 python3-venv libsqlite3-mod-spatialite)
if [ "${1:-run}" = "test" ]; then
  want+=(postgresql postgis chromium fonts-noto-cjk)
fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing system packages: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
