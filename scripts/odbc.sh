#!/usr/bin/env bash
# The ODBC drivers the ODBC tests load, registered in a project-local odbcinst.ini (never /etc):
# psqlODBC (PostgreSQL Unicode), SQLite ODBC (SQLite3) and FreeTDS from Debian's packages
# (scripts/install-deps.sh), and Microsoft's ODBC Driver 18 for SQL Server from PyPI
# (mssql-python-odbc, pinned, into a venv under .services/odbc; never committed). Prints the
# directory to export as ODBCSYSINI. Idempotent.
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
# Microsoft's driver: the Debian/Ubuntu build inside the wheel (its resources sit beside it).
venv="$dir/msodbc-venv"
msodbc() { find "$venv" -path '*debian_ubuntu/x86_64/lib/libmsodbcsql-18*.so*' 2>/dev/null | head -n 1; }
if [ -z "$(msodbc)" ]; then
  echo "odbc.sh: installing Microsoft ODBC Driver 18 (mssql-python-odbc 18.6.2.2) into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "mssql-python-odbc==18.6.2.2" >&2
fi
ms="$(msodbc)"
[ -n "$ms" ] || { echo "odbc.sh: Microsoft ODBC Driver 18 did not install" >&2; exit 1; }
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

[ODBC Driver 18 for SQL Server]
Description = Microsoft ODBC Driver 18 for SQL Server (PyPI mssql-python-odbc)
Driver = $ms
INI
: > "$dir/odbc.ini"
echo "$dir"
