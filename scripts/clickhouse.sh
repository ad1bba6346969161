#!/usr/bin/env bash
# The local ClickHouse 18.16 (Debian's package) that tests, the demo and CI use: one server under the
# project folder, loopback only, run by an unprivileged user, started and stopped by pid. No Docker,
# no systemd.
#
# usage: scripts/clickhouse.sh start|stop|status|url|client [clickhouse-client args...]
#
#   start   installs clickhouse-server + clickhouse-client from Debian's packages when
#           /usr/sbin/clickhouse-server is missing (apt-get update only when the package is unknown;
#           the package's own system service is kept from starting, and would listen on other ports
#           anyway), writes the config, starts the server (a no-op when it already runs; a stale pid
#           file left by a crash is removed), waits until GET /ping answers "Ok." and prints the URL.
#           Measured here (2 cores): 0.2 s from `start` to "Ok." (the same for a first start on an
#           empty folder); 0.02 s when already running; installing the packages from a warm apt
#           cache took 2 s (6.5 s downloading). `stop` takes ~1.6 s.
#   stop    stops the server whose pid is in run/clickhouse-server.pid (SIGTERM, then SIGKILL after
#           30 s). No-op when down.
#   status  exit 0 and "running (pid N) ..." when up; exit 3 and "stopped" when down.
#   url     prints http://dpone:dpone@127.0.0.1:PORT/ — the form dpone's ClickHouse client takes:
#           http://[user[:password]@]host:port/ (the client moves user/password into the
#           X-ClickHouse-User / X-ClickHouse-Key headers; they never travel in the URL).
#   client  runs clickhouse-client against the native port as user dpone (extra args passed through),
#           e.g. scripts/clickhouse.sh client --query "SELECT version()".
#
# Layout: $ROOT/.services/clickhouse/{config.xml,users.xml,data/,tmp/,user_files/,format_schemas/,
# log/,run/} where ROOT is the repository root (the folder holding scripts/; .services/ is
# gitignored). Override the services folder with DPONE_SERVICES_DIR.
# Ports (127.0.0.1 only): HTTP DPONE_CH_PORT (default 18123), native TCP DPONE_CH_TCP_PORT (default
# 19000). No interserver port (no replication), no HTTPS/TLS ports.
#
# Users (users.xml; both limited to loopback networks):
#   - `dpone`, password `dpone`: what tests and the demo use (a wrong password is a real
#     authentication failure, code 192/516).
#   - `default`, no password.
# Limits: max_memory_usage 2 GB per query, mark cache 256 MB, uncompressed cache 256 MB,
# timezone UTC, keep_alive_timeout 10 s.
#
# When run as root the server runs as the system user `dpone-ch` (created when missing): a database
# server should not run as root. Otherwise it runs as the invoking user.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES="${DPONE_SERVICES_DIR:-$ROOT/.services}"
BASE="$SERVICES/clickhouse"
RUN="$BASE/run"
LOGDIR="$BASE/log"
PIDFILE="$RUN/clickhouse-server.pid"
CONFIG="$BASE/config.xml"
PORT="${DPONE_CH_PORT:-18123}"
TCP_PORT="${DPONE_CH_TCP_PORT:-19000}"
SERVER_BIN="/usr/sbin/clickhouse-server"
URL="http://dpone:dpone@127.0.0.1:$PORT/"
CH_USER="$(id -un)"
[ "$(id -u)" -eq 0 ] && CH_USER="dpone-ch"

die() { echo "clickhouse.sh: $*" >&2; exit 1; }

# Runs a command as the server owner, from inside the service folder (readable by that user).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$BASE" && runuser -u "$CH_USER" -- "$@")
  else
    (cd "$BASE" && "$@")
  fi
}

install_packages() {
  [ -x "$SERVER_BIN" ] && command -v clickhouse-client >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "clickhouse.sh: installing clickhouse-server clickhouse-client (Debian, 18.16)" >&2
  # The package's postinst starts a system service (8123/9000, /var/lib/clickhouse) through
  # invoke-rc.d / deb-systemd-invoke. A policy-rc.d that answers 101 forbids that; Docker images ship
  # one, elsewhere a temporary one is put in place for the install only.
  local policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, scripts/clickhouse.sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    policy_added=1
  fi
  local status=0
  {
    if ! apt-cache show clickhouse-server >/dev/null 2>&1; then
      $sudo apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
  } || status=$?
  [ -n "$policy_added" ] && $sudo rm -f /usr/sbin/policy-rc.d
  [ "$status" -eq 0 ] || die "apt-get install clickhouse-server clickhouse-client failed"
  # On a systemd host, keep the system service from starting at boot as well (it does not conflict
  # with this server's ports or folders, but it costs memory).
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now clickhouse-server >/dev/null 2>&1 || true
  fi
  [ -x "$SERVER_BIN" ] || die "clickhouse-server still missing at $SERVER_BIN after installing it"
}

ensure_owner() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id -u "$CH_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$CH_USER"
  fi
}

# The pid recorded in the pid file when that process is alive and is a clickhouse-server on our config.
live_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(head -n 1 "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  # A crash can leave a pid that now belongs to another process: require our server's command line.
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--config-file=$CONFIG" || return 1
  echo "$pid"
}

ping_ok() { [ "$(curl -s --max-time 2 "http://127.0.0.1:$PORT/ping" 2>/dev/null)" = "Ok." ]; }

write_config() {
  mkdir -p "$BASE" "$RUN" "$LOGDIR" "$BASE/data" "$BASE/tmp" "$BASE/user_files" "$BASE/format_schemas"
  # --daemon attaches its stdout/stderr to log/stdout.log and log/stderr.log: they must belong to
  # the server's user (launch.log collects what the launcher prints before that).
  rm -f "$LOGDIR/stdout.log" "$LOGDIR/stderr.log"
  # Rewritten on every start so changed ports apply.
  cat >"$CONFIG" <<EOF
<?xml version="1.0"?>
<!-- dpone local service (scripts/clickhouse.sh); rewritten on every start. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$LOGDIR/clickhouse-server.log</log>
        <errorlog>$LOGDIR/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$PORT</http_port>
    <tcp_port>$TCP_PORT</tcp_port>
    <max_connections>1024</max_connections>
    <!-- 64 by default; 4096 as on modern servers, so a burst of test connections never overflows
         the accept queue (the kernel resets a connection that overflowed it). -->
    <listen_backlog>4096</listen_backlog>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$BASE/data/</path>
    <tmp_path>$BASE/tmp/</tmp_path>
    <user_files_path>$BASE/user_files/</user_files_path>
    <format_schema_path>$BASE/format_schemas/</format_schema_path>
    <users_config>$BASE/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <!-- Tests drop what they create; no size guard. -->
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
EOF
  cat >"$BASE/users.xml" <<'EOF'
<?xml version="1.0"?>
<!-- dpone local service (scripts/clickhouse.sh); rewritten on every start. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <dpone>
            <password>dpone</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </dpone>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
  if [ "$(id -u)" -eq 0 ]; then
    chown -R "$CH_USER" "$BASE"
    chmod 711 "$BASE"
  fi
  return 0
}

show_logs() {
  local f
  for f in launch.log stderr.log clickhouse-server.err.log; do
    [ -s "$LOGDIR/$f" ] && tail -n 10 "$LOGDIR/$f" >&2
  done
  return 0
}

start() {
  local pid
  install_packages
  ensure_owner
  if live_pid >/dev/null && ping_ok; then
    echo "$URL"
    return 0
  fi
  if pid="$(live_pid)"; then
    # Alive but not answering yet (another start racing, or still loading): wait for it below.
    :
  else
    if [ -f "$PIDFILE" ]; then
      echo "clickhouse.sh: removing stale pid file" >&2
      rm -f "$PIDFILE"
    fi
    if ping_ok; then
      die "something else answers on 127.0.0.1:$PORT (not this server: no live pid in $PIDFILE)"
    fi
    write_config
    as_owner "$SERVER_BIN" --config-file="$CONFIG" --pid-file="$PIDFILE" --daemon \
      >>"$LOGDIR/launch.log" 2>&1 || { show_logs; die "clickhouse-server did not start"; }
  fi
  local i
  for i in $(seq 1 300); do
    ping_ok && { echo "$URL"; return 0; }
    # The daemon writes its pid file within a second; no live pid after 5 s means it died.
    if [ "$i" -ge 50 ] && ! live_pid >/dev/null; then
      show_logs
      die "clickhouse-server exited during startup (log: $LOGDIR)"
    fi
    sleep 0.1
  done
  show_logs
  die "ClickHouse did not answer /ping on 127.0.0.1:$PORT within 30 s (log: $LOGDIR)"
}

stop() {
  local pid
  if ! pid="$(live_pid)"; then
    echo "clickhouse.sh: not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 300); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    echo "clickhouse.sh: pid $pid did not exit after SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  echo "clickhouse.sh: stopped pid $pid"
}

status() {
  local pid
  if pid="$(live_pid)" && ping_ok; then
    echo "running (pid $pid) on 127.0.0.1:$PORT (native $TCP_PORT), data $BASE/data"
  else
    echo "stopped"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "$URL" ;;
  client) shift; exec clickhouse-client --host 127.0.0.1 --port "$TCP_PORT" --user dpone --password dpone "$@" ;;
  *) echo "usage: $0 start|stop|status|url|client [args]" >&2; exit 2 ;;
esac
