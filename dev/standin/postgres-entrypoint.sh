#!/bin/bash
# Entrypoint of the postgres stand-in: on an empty data directory create the cluster, the
# POSTGRES_USER role with POSTGRES_PASSWORD and the POSTGRES_DB database, then run the server.
set -euo pipefail

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"

init_cluster() {
    [[ -n ${POSTGRES_PASSWORD:-} ]] || { echo "error: POSTGRES_PASSWORD is required" >&2; exit 1; }
    # Local connections trust the OS user during set-up (no password prompt); network clients
    # always need the password.
    initdb --username="$POSTGRES_USER" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 -D "$PGDATA" >/dev/null
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    # From stdin, so psql quotes the password itself (:'pw'); -c would not interpolate it.
    psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres --set=pw="$POSTGRES_PASSWORD" \
        >/dev/null <<<"ALTER ROLE \"$POSTGRES_USER\" WITH PASSWORD :'pw'"
    if [[ $POSTGRES_DB != postgres ]]; then
        psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "stand-in postgres: initialised $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)" >&2
}

if [[ ${1:-} == postgres ]]; then
    [[ -s $PGDATA/PG_VERSION ]] || init_cluster
fi
exec "$@"
