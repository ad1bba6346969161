#!/usr/bin/env bash
# The ODBC drivers the ODBC tests load, registered in a project-local odbcinst.ini (never /etc):
# psqlODBC (PostgreSQL Unicode), SQLite ODBC (SQLite3) and FreeTDS. Installs the Debian packages
# when missing (scripts/install-deps.sh) and prints the directory to export as ODBCSYSINI. Idempotent.
#   scripts/odbc.sh        # -> /path/to/.services/odbc
set -euo pipefail
cd "$(dirname "$0")/.."
# The driver packages come with the other C libraries (scripts/install-deps.sh).
scripts/install-deps.sh >&2
driver() { dpkg -L "$1" | grep -E "/$2\$" | head -n 1; }
psql="$(driver odbc-postgresql psqlodbcw.so)"
sqlite="$(driver libsqliteodbc libsqlite3odbc.so)"
tds="$(driver tdsodbc libtdsodbc.so)"
for f in "$psql" "$sqlite" "$tds"; do
  [ -n "$f" ] && [ -f "$f" ] || { echo "odbc.sh: a driver library is missing ($psql, $sqlite, $tds)" >&2; exit 1; }
done
dir="$PWD/.services/odbc"
mkdir -p "$dir"
cat > "$dir/odbcinst.ini" <<INI
[PostgreSQL Unicode]
Description = psqlODBC (Debian odbc-postgresql)
Driver = $psql

[SQLite3]
Description = SQLite ODBC (Debian libsqliteodbc)
Driver = $sqlite

[FreeTDS]
Description = FreeTDS (Debian tdsodbc)
Driver = $tds
INI
: > "$dir/odbc.ini"
echo "$dir"
