#!/bin/sh
# Entrypoint of the commandcenter redis image: make /data (and a restored dump.rdb)
# belong to the redis user, then exec redis-server as that user, as PID 1, so that
# SIGTERM reaches it (redis saves a final snapshot and exits).
set -eu

if [ "${1:-}" = "redis-server" ] && [ "$(id -u)" = "0" ]; then
    mkdir -p /data
    if [ -n "$(find /data \! -user redis -print -quit)" ]; then
        echo "entrypoint: fixing ownership of /data" >&2
        chown -R redis:redis /data
    fi
    exec setpriv --reuid=redis --regid=redis --init-groups -- "$@"
fi
exec "$@"
