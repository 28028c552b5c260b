#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages citymap needs, only those that are missing, then checks that
# what they provide works: a package being "installed" is not the same as the capability being there
# (Debian's `postgis` only *recommends* the server extension, so `--no-install-recommends` left it out).
#   scripts/setup_system.sh run    what the service needs (Python venv, SpatiaLite)
#   scripts/setup_system.sh test   plus what the tests need (PostgreSQL + PostGIS, Chromium, CJK fonts, and the
#                                  real clients of the standard APIs: GDAL's ogr2ogr and QGIS for OGC API – Features)
set -euo pipefail
mode="${1:-run}"
cd "$(dirname "$0")/.."

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
updated=0
install_missing() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$updated" -eq 0 ]; then
    "${sudo_cmd[@]}" apt-get update -q
    updated=1
  fi
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_missing python3 python3-venv libsqlite3-mod-spatialite
# npm fetches the chart library at set-up (scripts/fetch_npm_assets.py); a NodeSource nodejs brings its own npm
command -v npm >/dev/null 2>&1 || install_missing npm
if [ "$mode" = "test" ]; then
  install_missing postgresql chromium fonts-noto-cjk fontconfig gdal-bin python3-qgis
  # The PostGIS server extension is packaged per PostgreSQL major version: take the newest server
  # installed (the one scripts/pg_throwaway.py runs).
  major="$(ls /usr/lib/postgresql | sort -n | tail -1)"
  install_missing "postgresql-${major}-postgis-3"
fi

failed=0
check() {
  local what="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then echo "ok: $what"; else echo "FAILED: $what" >&2; echo "$out" | tail -20 >&2; failed=1; fi
}
python=/usr/bin/python3.11
[ -x "$python" ] || python=/usr/bin/python3
check "SpatiaLite loads into $python's sqlite3" "$python" -c "
import sqlite3
con = sqlite3.connect(':memory:')
con.enable_load_extension(True)
con.load_extension('mod_spatialite')
assert con.execute('SELECT ST_X(MakePoint(117.35, 39.1))').fetchone()[0] == 117.35"
check "npm runs (it fetches the chart library)" npm --version
if [ "$mode" = "test" ]; then
  check "PostGIS extension files for PostgreSQL ${major}" test -f "/usr/share/postgresql/${major}/extension/postgis.control"
  check "a throwaway PostgreSQL ${major} cluster starts and CREATE EXTENSION postgis works" "$python" -c "
import sys, tempfile
from pathlib import Path
sys.path.insert(0, 'scripts')
import pg_throwaway
base = Path(tempfile.mkdtemp(prefix='citymap-pgcheck-'))
try:
    pg_throwaway.start(base)
finally:
    pg_throwaway.stop(base)"
  check "headless Chromium starts and renders a page" timeout 60 chromium --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync --no-first-run \
    --user-data-dir="$(mktemp -d)" --dump-dom "data:text/html,<p>ok</p>"
  check "a CJK font is installed" test -n "$(fc-list :lang=zh family)"
  check "GDAL's ogr2ogr has the OGC API – Features driver (OAPIF)" sh -c "ogrinfo --formats | grep -q '^ *OAPIF'"
  qgis_home="$(mktemp -d)"
  check "QGIS starts headless with its OAPIF provider" env QT_QPA_PLATFORM=offscreen HOME="$qgis_home" \
    XDG_RUNTIME_DIR="$qgis_home" timeout 120 /usr/bin/python3 -c "
from qgis.core import QgsApplication, QgsProviderRegistry
app = QgsApplication([], False)
app.initQgis()
assert 'OAPIF' in QgsProviderRegistry.instance().providerList()
app.exitQgis()"
  rm -rf "$qgis_home"
fi
exit "$failed"
