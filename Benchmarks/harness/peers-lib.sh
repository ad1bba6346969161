# Shared by the peers harnesses (sourced, not run).

# install_sling DIR: Sling from PyPI (the `sling-linux-amd64` binary wheel) under DIR, once; its
# bundled Go binary is run directly (the Python wrapper would try to download one). Sets SLING and
# SLING_VERSION.
install_sling() {
  local dir=$1
  if [ ! -x "$dir/sling/sling_linux_amd64/bin/sling-linux-amd64" ]; then
    rm -rf "$dir/wheel" "$dir/sling"
    python3 -m pip download -q --no-deps -d "$dir/wheel" sling-linux-amd64
    python3 -m zipfile -e "$dir"/wheel/sling_linux_amd64-*.whl "$dir/sling"
    chmod +x "$dir/sling/sling_linux_amd64/bin/sling-linux-amd64"
  fi
  SLING="$dir/sling/sling_linux_amd64/bin/sling-linux-amd64"
  SLING_VERSION=$(cat "$dir/sling/sling_linux_amd64/bin/VERSION")
}

# install_dpone_python VENV EXTRAS IMPORTS: dpone-python 0.88.0 (`dpone[EXTRAS]` from PyPI) in its
# own venv, created when missing or when IMPORTS (a Python import line) fails. Sets DPONE_PY and
# DPONE_PY_VERSION.
install_dpone_python() {
  local venv=$1 extras=$2 imports=$3
  if [ ! -x "$venv/bin/dpone" ] || ! "$venv/bin/python" -c "$imports" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "dpone[$extras]==0.88.0"
  fi
  DPONE_PY="$venv/bin/dpone"
  DPONE_PY_VERSION=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("dpone"))')
}

# export_pg_connection NAME URL: dpone-python's env connection NAME (DPONE_CONN_<NAME>_*) for a
# postgresql://user:password@host:port/database URL.
export_pg_connection() {
  local name=$1 url=$2
  [[ "$url" =~ ^postgresql://([^:]+):([^@]+)@([^:/]+):([0-9]+)/(.+)$ ]] || { echo "unexpected URL $url" >&2; return 1; }
  export "DPONE_CONN_${name}_USERNAME=${BASH_REMATCH[1]}" "DPONE_CONN_${name}_PASSWORD=${BASH_REMATCH[2]}" \
    "DPONE_CONN_${name}_HOST=${BASH_REMATCH[3]}" "DPONE_CONN_${name}_PORT=${BASH_REMATCH[4]}" \
    "DPONE_CONN_${name}_DATABASE=${BASH_REMATCH[5]}"
}

# measure LABEL COMMAND...: runs COMMAND under /usr/bin/time with its output in $WORK/LABEL.out and
# .err (shown, and the script stops, when it fails) and appends "LABEL seconds rss_kb cpu_s" to
# $WORK/times.
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" || {
    cat "$WORK/$label.out" "$WORK/$label.err"; exit 1; }
  read -r secs rss user sys <"$WORK/time.txt"
  echo "$label $secs $rss $(awk "BEGIN { print $user + $sys }")" >>"$WORK/times"
}
