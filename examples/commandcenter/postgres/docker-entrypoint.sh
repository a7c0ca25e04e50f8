#!/bin/bash
# Entrypoint of the commandcenter postgres image.
#
#  * first start (no $PGDATA/PG_VERSION): initdb as the postgres user, listen on all
#    addresses, scram-sha-256 password auth for TCP clients, create the role
#    $POSTGRES_USER (password $POSTGRES_PASSWORD) and the database $POSTGRES_DB it owns;
#  * every start: fix ownership/modes of the data and socket directories (restores and
#    volume copies may leave root-owned files), then `exec` postgres as user postgres,
#    so postgres is PID 1 and receives the stop signal directly.
#
# Local (unix socket) connections inside the container are trusted, as in the official
# image: `docker compose exec postgres psql -U commandcenter` and pg_dump need no password.
set -Eeuo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export PGDATA

log() { echo "entrypoint: $*" >&2; }

# `docker compose run postgres bash` etc.: run the command as given.
if [ "${1:-}" != "postgres" ] && [ "${1#-}" = "${1:-}" ]; then
    exec "$@"
fi
if [ "${1#-}" != "${1:-}" ]; then
    set -- postgres "$@"
fi

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

if [ "$(id -u)" = "0" ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    # Only walk the tree when something is wrong: cheap on every start.
    if [ -n "$(find "$PGDATA" \! -user postgres -print -quit)" ]; then
        log "fixing ownership of $PGDATA"
        chown -R postgres:postgres "$PGDATA"
    fi
    chmod 700 "$PGDATA"
    chown postgres:postgres /var/run/postgresql
    chmod 2775 /var/run/postgresql
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        log "error: database is uninitialised and POSTGRES_PASSWORD is not set"
        exit 1
    fi
    log "initialising a new cluster in $PGDATA"
    as_postgres initdb --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null

    {
        echo
        echo "# added by docker-entrypoint.sh"
        echo "listen_addresses = '*'"
        echo "password_encryption = scram-sha-256"
    } >> "$PGDATA/postgresql.conf"
    {
        echo
        echo "# added by docker-entrypoint.sh: password clients from any host"
        echo "host all all all scram-sha-256"
    } >> "$PGDATA/pg_hba.conf"

    # Temporary server on a private socket and no TCP, so neither the healthcheck nor
    # other services can see a half-initialised database.
    initsock="$(mktemp -d /tmp/pginit.XXXXXX)"
    chown postgres:postgres "$initsock"
    as_postgres pg_ctl -D "$PGDATA" -w -s \
        -o "-c listen_addresses='' -c unix_socket_directories='$initsock'" start

    # Values go in as psql variables on stdin: no quoting problems, no password in argv.
    as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$initsock" -U postgres -d postgres \
        -v user="$POSTGRES_USER" -v pass="$POSTGRES_PASSWORD" -v db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'user', :'pass')
 WHERE :'user' <> 'postgres' \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'user', :'pass')
 WHERE :'user' = 'postgres' \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL

    as_postgres pg_ctl -D "$PGDATA" -m fast -w -s stop
    rm -rf "$initsock"
    log "initialisation complete (role ${POSTGRES_USER}, database ${POSTGRES_DB})"
fi

unset POSTGRES_PASSWORD
if [ "$(id -u)" = "0" ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
fi
exec "$@"
