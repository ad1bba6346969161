#!/usr/bin/env bash
# The local PostgreSQL 15 that tests, the demo and CI use: one cluster under the project folder,
# loopback only, run by an unprivileged user, started and stopped by pid. No Docker, no systemd.
#
# usage: scripts/postgres.sh start|stop|status|url|psql [psql args...]
#
#   start   installs PostgreSQL 15 from Debian's packages when /usr/lib/postgresql/15/bin/initdb is
#           missing (apt-get update only when the package is unknown), creates the cluster on first
#           use, starts it (a no-op when it already runs; a stale postmaster.pid left by a crash is
#           removed) and prints the URL. About one second when already initialised.
#   stop    stops the server whose pid is in postmaster.pid (pg_ctl stop -m fast). No-op when down.
#   status  exit 0 and "running (pid N) ..." when up; exit 3 and "stopped" when down.
#   url     prints postgresql://dpone:dpone@127.0.0.1:PORT/dpone
#   psql    opens psql as the superuser over the unix socket (extra args passed through).
#
# Layout: $ROOT/.services/postgres/{data,run,log} where ROOT is the repository root (the folder
# holding scripts/; .services/ is gitignored). Override with DPONE_SERVICES_DIR.
# Port: DPONE_PG_PORT (default 55432), listening on 127.0.0.1 only; the unix socket lives in run/.
#
# Roles and authentication (pg_hba.conf):
#   - superuser `postgres`: trust over the unix socket only (this script's admin path).
#   - role `dpone`, password `dpone` (SUPERUSER, REPLICATION): scram-sha-256 over TCP 127.0.0.1/::1,
#     so a wrong password is a real authentication failure (SQLSTATE 28P01) in tests.
#   - database `dpone` owned by `dpone`.
# Settings: wal_level=logical, max_replication_slots=32, max_wal_senders=32, max_connections=300; fsync and
# synchronous_commit keep their defaults (on).
#
# When run as root the cluster belongs to the system user `dpone-pg` (created when missing):
# PostgreSQL refuses to run as root. Otherwise it runs as the invoking user.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES="${DPONE_SERVICES_DIR:-$ROOT/.services}"
BASE="$SERVICES/postgres"
DATA="$BASE/data"
RUN="$BASE/run"
LOG="$BASE/log/postgres.log"
PORT="${DPONE_PG_PORT:-55432}"
BIN="/usr/lib/postgresql/15/bin"
URL="postgresql://dpone:dpone@127.0.0.1:$PORT/dpone"
PG_USER="$(id -un)"
[ "$(id -u)" -eq 0 ] && PG_USER="dpone-pg"

die() { echo "postgres.sh: $*" >&2; exit 1; }

# Runs a command as the cluster owner, from inside the cluster folder (readable by that user).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$BASE" && runuser -u "$PG_USER" -- "$@")
  else
    (cd "$BASE" && "$@")
  fi
}

install_packages() {
  [ -x "$BIN/initdb" ] && command -v psql >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "postgres.sh: installing postgresql-15 postgresql-client-15" >&2
  # Debian's postinst would otherwise create and start a system cluster on 5432.
  $sudo mkdir -p /etc/postgresql-common
  if ! grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
    echo "create_main_cluster = false" | $sudo tee -a /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  if ! apt-cache show postgresql-15 >/dev/null 2>&1; then
    $sudo apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 postgresql-client-15 >/dev/null
  [ -x "$BIN/initdb" ] || die "initdb still missing at $BIN after installing postgresql-15"
}

ensure_owner() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id -u "$PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER"
  fi
}

# The pid recorded in postmaster.pid when that process is alive and is a postgres of this cluster.
live_pid() {
  [ -f "$DATA/postmaster.pid" ] || return 1
  local pid
  pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  # A crash can leave a pid that now belongs to another process: require our postmaster's command line.
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "postgres -D $DATA" || return 1
  echo "$pid"
}

is_running() { live_pid >/dev/null && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

init_cluster() {
  mkdir -p "$BASE/log" "$RUN"
  [ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$BASE"
  chmod 700 "$BASE"
  [ "$(id -u)" -eq 0 ] && chmod 711 "$BASE"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$BASE/log/initdb.log" 2>&1 \
      || { cat "$BASE/log/initdb.log" >&2; die "initdb failed"; }
    cat >"$DATA/pg_hba.conf" <<'EOF'
# dpone local service (scripts/postgres.sh): superuser over the unix socket, passwords over TCP.
local   all             all                     trust
local   replication     all                     trust
host    all             all     127.0.0.1/32    scram-sha-256
host    all             all     ::1/128         scram-sha-256
host    replication     all     127.0.0.1/32    scram-sha-256
host    replication     all     ::1/128         scram-sha-256
EOF
    echo "include_if_exists = 'dpone.conf'" >>"$DATA/postgresql.conf"
    [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$DATA/pg_hba.conf"
  fi
  # Rewritten on every start so a changed port applies.
  cat >"$DATA/dpone.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN'
wal_level = logical
max_replication_slots = 32
max_wal_senders = 32
# Tests run in parallel and each run holds a few connections (source, sink, state, lock).
max_connections = 300
fsync = on
synchronous_commit = on
password_encryption = 'scram-sha-256'
timezone = 'UTC'
log_timezone = 'UTC'
EOF
  [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$DATA/dpone.conf"
  return 0
}

admin_psql() { as_owner psql -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U postgres "$@"; }

ensure_role_and_database() {
  admin_psql -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'dpone'" | grep -q 1 \
    || admin_psql -d postgres -c "CREATE ROLE dpone LOGIN SUPERUSER REPLICATION PASSWORD 'dpone'"
  admin_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'dpone'" | grep -q 1 \
    || admin_psql -d postgres -c "CREATE DATABASE dpone OWNER dpone"
}

start() {
  install_packages
  ensure_owner
  if is_running; then
    echo "$URL"
    return 0
  fi
  init_cluster
  # A crash leaves postmaster.pid (and the socket lock) behind; the pid may since belong to another process.
  if [ -f "$DATA/postmaster.pid" ] && ! live_pid >/dev/null; then
    echo "postgres.sh: removing stale postmaster.pid" >&2
    rm -f "$DATA/postmaster.pid"
  fi
  rm -f "$RUN/.s.PGSQL.$PORT.lock" "$RUN/.s.PGSQL.$PORT"
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -s start \
    || { tail -n 20 "$LOG" >&2; die "PostgreSQL did not start (log: $LOG)"; }
  ensure_role_and_database
  echo "$URL"
}

stop() {
  local pid
  if ! pid="$(live_pid)"; then
    echo "postgres.sh: not running"
    return 0
  fi
  as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 -s stop || kill -INT "$pid"
  echo "postgres.sh: stopped pid $pid"
}

status() {
  local pid
  if pid="$(live_pid)" && is_running; then
    echo "running (pid $pid) on 127.0.0.1:$PORT, data $DATA"
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
  psql) shift; admin_psql -d dpone "$@" ;;
  *) echo "usage: $0 start|stop|status|url|psql [args]" >&2; exit 2 ;;
esac
