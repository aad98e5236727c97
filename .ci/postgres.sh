#!/usr/bin/env bash
# A throwaway local PostgreSQL server, for the tuning tests that share one Optuna study between
# workers through a database, and for trying `tuning.storage: postgresql://...` by hand.
#
#   .ci/postgres.sh start   install PostgreSQL (Debian's package) where missing, create a cluster
#                           in $IOTSCOPE_POSTGRES_DIR, start it on a free loopback port, create the
#                           database `iotscope`, write its URL to $IOTSCOPE_POSTGRES_DIR/url and
#                           print it (a server already running there is reused)
#   .ci/postgres.sh stop    stop that server and remove its directory
#   .ci/postgres.sh url     print the URL of the running server
#
# The server trusts local connections (no password) and listens on 127.0.0.1 only. PostgreSQL
# refuses to run as root: under root it runs as the `postgres` user of the package.
set -euo pipefail

dir=${IOTSCOPE_POSTGRES_DIR:-/tmp/iotscope-postgres}
port=${IOTSCOPE_POSTGRES_PORT:-}
database=iotscope

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$found" ] && [ -x "$found/initdb" ]; then
        echo "$found"
    elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
    fi
}

install_packages() {
    if [ -n "$(find_bin)" ]; then
        return
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        log "PostgreSQL is not installed and installing it needs root and apt-get"
        exit 2
    fi
    log "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
}

# Run a PostgreSQL program as the user that owns the cluster.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

running() {
    [ -f "$dir/url" ] && [ -f "$dir/data/postmaster.pid" ] \
        && as_owner "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

start() {
    install_packages
    bin=$(find_bin)
    if running; then
        cat "$dir/url"
        return
    fi
    rm -rf "$dir"
    mkdir -p "$dir/socket"
    port=${port:-$(free_port)}
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres "$dir"
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 >"$dir/initdb.log"
    as_owner "$bin/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir/socket -c fsync=off" >/dev/null
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$database"
    echo "postgresql://postgres@127.0.0.1:$port/$database" >"$dir/url"
    log "server running in $dir (log: $dir/server.log)"
    cat "$dir/url"
}

stop() {
    bin=$(find_bin)
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" stop -D "$dir/data" -m fast -w >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url)
        bin=$(find_bin)
        if ! running; then
            log "no server running in $dir; run: $0 start"
            exit 1
        fi
        cat "$dir/url"
        ;;
    *)
        echo "usage: $0 start|stop|url" >&2
        exit 2
        ;;
esac
