#!/usr/bin/env bash
# A throwaway Synapse (Matrix homeserver) on loopback for the Matrix backend's tests.
#
#   scripts/e2e/synapse.sh start   installs the pinned matrix-synapse from PyPI into a venv when
#                                  missing, writes its config (loopback only, SQLite, a shared
#                                  registration secret, generous rate limits, no federation key
#                                  servers), starts it (or reuses the one already running) and
#                                  prints only KEY=VALUE lines on stdout:
#                                    FERRBOT_TEST_SYNAPSE_URL=http://127.0.0.1:18008
#                                    FERRBOT_TEST_SYNAPSE_SECRET=<registration shared secret>
#                                    FERRBOT_TEST_SYNAPSE_CTL=<path of this script>
#   scripts/e2e/synapse.sh stop    stops it (SIGTERM, then SIGKILL after 15 s). The database
#                                  is kept, so a later `start` serves the same users and rooms.
#
# Usage: eval "$(scripts/e2e/synapse.sh start)". Progress goes to stderr. Idempotent and fast
# on a second run (the venv, signing key and secret are reused). Tests stop and start the
# server themselves through FERRBOT_TEST_SYNAPSE_CTL to check reconnection.
#
# Environment: FERRBOT_E2E_DIR (default /var/tmp/ferrbot-e2e-$UID) holds the venv
# (synapse-venv), the data directory (synapse/: config, SQLite database, log, pid file);
# FERRBOT_TEST_SYNAPSE_PORT (default 18008).
set -euo pipefail

E2E="${FERRBOT_E2E_DIR:-/var/tmp/ferrbot-e2e-$(id -u)}"
VENV="$E2E/synapse-venv"
DIR="$E2E/synapse"
PIDFILE="$DIR/synapse.pid"
LOGFILE="$DIR/server.log"
CONFIG="$DIR/homeserver.yaml"
PORT="${FERRBOT_TEST_SYNAPSE_PORT:-18008}"
URL="http://127.0.0.1:$PORT"
SYNAPSE_VERSION="1.163.2"
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

log() { echo "synapse: $*" >&2; }
die() { log "error: $*"; exit 1; }

installed() {
    [ -x "$VENV/bin/python" ] && [ -f "$VENV/.ferrbot-synapse-$SYNAPSE_VERSION" ]
}

install() {
    installed && return 0
    command -v python3 >/dev/null 2>&1 || die "python3 is needed (apt-get install python3 python3-venv)"
    log "installing matrix-synapse==$SYNAPSE_VERSION into $VENV (about 30 s the first time)"
    rm -rf "$VENV"
    mkdir -p "$E2E"
    python3 -m venv "$VENV" >&2 || die "cannot create a venv (apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION" >&2 \
        || die "pip install of matrix-synapse failed"
    "$VENV/bin/python" -c "import synapse, sys; sys.exit(synapse.__version__ != '$SYNAPSE_VERSION')" \
        || die "the installed synapse is not $SYNAPSE_VERSION"
    touch "$VENV/.ferrbot-synapse-$SYNAPSE_VERSION"
}

# The registration shared secret: made once, kept with the data.
secret() {
    if [ ! -s "$DIR/shared-secret" ]; then
        (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/shared-secret")
    fi
    cat "$DIR/shared-secret"
}

write_config() {
    local s="$1"
    cat >"$DIR/log.config" <<EOF
version: 1
formatters:
  precise: {format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s'}
handlers:
  file: {class: logging.FileHandler, formatter: precise, filename: $LOGFILE}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
EOF
    # Written on every start, so it always matches this script. Loopback only, no federation
    # listener, no key servers, no stats, no presence or URL previews.
    cat >"$CONFIG" <<EOF
server_name: "localhost"
public_baseurl: "$URL/"
pid_file: "$DIR/homeserver.pid"
listeners:
  - port: $PORT
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources: [{names: [client], compress: false}]
database: {name: sqlite3, args: {database: "$DIR/homeserver.db"}}
log_config: "$DIR/log.config"
media_store_path: "$DIR/media_store"
signing_key_path: "$DIR/localhost.signing.key"
registration_shared_secret: "$s"
enable_registration: false
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
presence: {enabled: false}
url_preview_enabled: false
enable_metrics: false
# Tests sync from scratch repeatedly; a cached initial sync would hide fresh invites.
caches: {sync_response_cache_duration: 0}
macaroon_secret_key: "$s-macaroon"
form_secret: "$s-form"
rc_message: {per_second: 1000, burst_count: 1000}
rc_registration: {per_second: 1000, burst_count: 1000}
rc_login:
  address: {per_second: 1000, burst_count: 1000}
  account: {per_second: 1000, burst_count: 1000}
  failed_attempts: {per_second: 1000, burst_count: 1000}
rc_joins:
  local: {per_second: 1000, burst_count: 1000}
  remote: {per_second: 1000, burst_count: 1000}
rc_joins_per_room: {per_second: 1000, burst_count: 1000}
rc_invites:
  per_room: {per_second: 1000, burst_count: 1000}
  per_user: {per_second: 1000, burst_count: 1000}
  per_issuer: {per_second: 1000, burst_count: 1000}
rc_room_creation: {per_second: 1000, burst_count: 1000}
rc_admin_redaction: {per_second: 1000, burst_count: 1000}
EOF
}

# True when our server answers the client API.
healthy() {
    curl -sf -m 2 "$URL/_matrix/client/versions" >/dev/null 2>&1
}

# True when something listens on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid from the pid file, if that process is still our homeserver.
our_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "synapse.app.homeserver -c $CONFIG" || return 1
    echo "$pid"
}

stop_server() {
    local pid
    if pid="$(our_pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 150); do
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
    mkdir -p "$DIR"
    local s
    s="$(secret)"
    if our_pid >/dev/null && healthy; then
        log "reusing the homeserver on $URL (pid $(our_pid))"
    else
        stop_server
        port_busy "$PORT" && die "127.0.0.1:$PORT is in use by another process; set FERRBOT_TEST_SYNAPSE_PORT"
        write_config "$s"
        if [ ! -s "$DIR/localhost.signing.key" ]; then
            "$VENV/bin/python" -m synapse.app.homeserver -c "$CONFIG" --generate-keys >&2 \
                || die "cannot generate the signing key"
        fi
        # setsid + no inherited stdout: the server must not hold the caller's $(...) pipe open,
        # nor die with the caller's process group.
        setsid "$VENV/bin/python" -m synapse.app.homeserver -c "$CONFIG" \
            </dev/null >>"$LOGFILE" 2>&1 &
        echo $! >"$PIDFILE"
        local i
        for i in $(seq 1 300); do
            healthy && break
            if ! our_pid >/dev/null; then
                tail -n 30 "$LOGFILE" >&2 || true
                die "the homeserver exited during start-up (log: $LOGFILE)"
            fi
            sleep 0.1
        done
        healthy || { tail -n 30 "$LOGFILE" >&2 || true; stop_server; die "the homeserver did not become ready (log: $LOGFILE)"; }
        log "started on $URL (pid $(our_pid)) after $((i / 10)).$((i % 10))s"
    fi
    echo "FERRBOT_TEST_SYNAPSE_URL=$URL"
    echo "FERRBOT_TEST_SYNAPSE_SECRET=$s"
    echo "FERRBOT_TEST_SYNAPSE_CTL=$SELF"
}

case "${1:-}" in
    start) start ;;
    stop) stop_server ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
