#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback for the storage tests.
#   scripts/e2e/postgres.sh start   installs Debian's postgresql when missing, starts a fresh
#                                   cluster, and prints FERRBOT_TEST_POSTGRES_URL=… on stdout
#   scripts/e2e/postgres.sh stop
# Idempotent: a cluster already running from an earlier `start` is reused.
set -euo pipefail

E2E="${FERRBOT_E2E_DIR:-/var/tmp/ferrbot-e2e-$(id -u)}"
DIR="$E2E/postgres"
PORT="${FERRBOT_TEST_PG_PORT:-54329}"
URL="postgres://ferrbot@127.0.0.1:$PORT/postgres"
log() { echo "postgres: $*" >&2; }

find_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

install() {
    log "installing Debian's postgresql"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
}

# Runs a command as the cluster's owner (initdb refuses to run as root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
        chown -R postgres "$DIR"
        su postgres -s /bin/sh -c "$*"
    else
        sh -c "$*"
    fi
}

start() {
    local bin
    bin="$(find_bin)" || { install; bin="$(find_bin)"; }
    mkdir -p "$DIR"
    chmod 0755 "$E2E" "$DIR" 2>/dev/null || true
    if [ -f "$DIR/data/postmaster.pid" ] && as_owner "'$bin/pg_ctl' -D '$DIR/data' status" >/dev/null 2>&1; then
        log "reusing the cluster on port $PORT"
    else
        rm -rf "$DIR/data" "$DIR/sock"
        mkdir -p "$DIR/sock"
        as_owner "'$bin/initdb' -D '$DIR/data' -A trust -U ferrbot --no-sync" >/dev/null
        as_owner "'$bin/pg_ctl' -D '$DIR/data' -l '$DIR/log' -w -o \"-c listen_addresses=127.0.0.1 -p $PORT -k '$DIR/sock' -c fsync=off\" start" >/dev/null
        log "started on 127.0.0.1:$PORT"
    fi
    echo "FERRBOT_TEST_POSTGRES_URL=$URL"
}

stop() {
    local bin
    bin="$(find_bin)" || exit 0
    if [ -f "$DIR/data/postmaster.pid" ]; then
        as_owner "'$bin/pg_ctl' -D '$DIR/data' -m fast -w stop" >/dev/null 2>&1 || true
        log "stopped"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
