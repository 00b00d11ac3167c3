#!/usr/bin/env bash
# Make sure RabbitMQ (AMQP + management API) and PostgreSQL are reachable.
#
# Hosts and ports come from AMQP_URI, RABBIT_MANAGEMENT_URI and POSTGRES_URL (defaults as in
# config.yml). A local server that is installed but down is started; a remote one is only
# checked. Every wait is bounded (INFRA_WAIT_S, default 60 s). On failure it says what to
# install or run and exits non-zero.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# rabbitmq-server, rabbitmq-plugins, pg_ctlcluster live in sbin dirs that a user PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

AMQP_URI="${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}"
RABBIT_MANAGEMENT_URI="${RABBIT_MANAGEMENT_URI:-http://guest:guest@127.0.0.1:15672/}"
POSTGRES_URL="${POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432}"
WAIT_S="${INFRA_WAIT_S:-60}"

log() { echo "[infra] $*"; }
err() { echo "[infra] $*" >&2; }

# parse_url URL DEFAULT_PORT -> prints "host port" (userinfo, path and query dropped; [v6] ok)
parse_url() {
    local rest="${1#*://}" default_port="$2" host port
    rest="${rest%%[/?]*}"      # drop path and query
    rest="${rest##*@}"         # drop user:password@
    if [[ "$rest" =~ ^\[([^]]+)\](:([0-9]+))?$ ]]; then
        host="${BASH_REMATCH[1]}"
        port="${BASH_REMATCH[3]}"
    elif [[ "$rest" =~ ^([^:]*)(:([0-9]+))?$ ]]; then
        host="${BASH_REMATCH[1]}"
        port="${BASH_REMATCH[3]}"
    else
        err "cannot parse host:port from '$1'"
        return 1
    fi
    echo "${host:-127.0.0.1} ${port:-$default_port}"
}

# port_open HOST PORT: one TCP connect attempt, at most 2 s.
port_open() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

is_local_host() {
    local h="$1" a
    case "$h" in
        localhost | 127.* | ::1 | 0.0.0.0 | "") return 0 ;;
    esac
    [[ "$h" == "$(hostname 2>/dev/null || true)" ]] && return 0
    [[ "$h" == "$(hostname -f 2>/dev/null || true)" ]] && return 0
    for a in $(hostname -I 2>/dev/null || true); do
        [[ "$h" == "$a" ]] && return 0
    done
    return 1
}

# wait_for NAME SECONDS CHECK_COMMAND...: poll once a second, printing a dot; bounded.
wait_for() {
    local name="$1" secs="$2" start=$SECONDS
    shift 2
    printf '[infra] waiting up to %ss for %s ' "$secs" "$name"
    until "$@"; do
        if (( SECONDS - start >= secs )); then
            printf ' timed out\n'
            return 1
        fi
        printf '.'
        sleep 1
    done
    printf ' up (%ss)\n' "$((SECONDS - start))"
}

docker_hint() {
    err "  or run both in Docker from this repo: docker compose up -d rabbitmq postgres"
}

# ---------------------------------------------------------------- RabbitMQ (AMQP)
hp="$(parse_url "$AMQP_URI" 5672)" || exit 1
read -r AMQP_HOST AMQP_PORT <<<"$hp"
hp="$(parse_url "$RABBIT_MANAGEMENT_URI" 15672)" || exit 1
read -r MGMT_HOST MGMT_PORT <<<"$hp"
mkdir -p .run

rabbit_installed() { command -v rabbitmq-server >/dev/null 2>&1; }

if port_open "$AMQP_HOST" "$AMQP_PORT"; then
    log "RabbitMQ AMQP   $AMQP_HOST:$AMQP_PORT ok"
else
    log "RabbitMQ AMQP   $AMQP_HOST:$AMQP_PORT not reachable"
    if ! is_local_host "$AMQP_HOST"; then
        err "$AMQP_HOST is not this machine, so it is not started here: start it there or fix AMQP_URI"
        exit 1
    fi
    if ! rabbit_installed; then
        err "RabbitMQ is not installed. Install and start it:"
        err "  sudo apt-get install -y rabbitmq-server && sudo rabbitmq-server -detached"
        err "  sudo rabbitmq-plugins enable rabbitmq_management"
        docker_hint
        exit 1
    fi
    log "starting RabbitMQ: rabbitmq-server -detached (log: .run/rabbitmq-start.log)"
    # Fails harmlessly if the node is already booting; the wait below decides.
    timeout 30 rabbitmq-server -detached >.run/rabbitmq-start.log 2>&1 || true
    if ! wait_for "RabbitMQ on $AMQP_HOST:$AMQP_PORT" "$WAIT_S" port_open "$AMQP_HOST" "$AMQP_PORT"; then
        err "RabbitMQ did not come up. Output of rabbitmq-server -detached:"
        sed 's/^/    /' .run/rabbitmq-start.log >&2 || true
        err "Look at /var/log/rabbitmq/, or start it yourself (as root): rabbitmq-server -detached"
        docker_hint
        exit 1
    fi
fi

# ---------------------------------------------------------------- RabbitMQ (management API)
if port_open "$MGMT_HOST" "$MGMT_PORT"; then
    log "RabbitMQ mgmt   $MGMT_HOST:$MGMT_PORT ok"
else
    log "RabbitMQ mgmt   $MGMT_HOST:$MGMT_PORT not reachable"
    if ! is_local_host "$MGMT_HOST" || ! command -v rabbitmq-plugins >/dev/null 2>&1; then
        err "The RabbitMQ management API is needed (dead-letter admin, test fixtures)."
        err "On the broker's machine run: rabbitmq-plugins enable rabbitmq_management"
        exit 1
    fi
    # Idempotent: if the plugin is already enabled and only starting, this changes nothing.
    log "enabling it: rabbitmq-plugins enable rabbitmq_management"
    if ! timeout 60 rabbitmq-plugins enable rabbitmq_management >.run/rabbitmq-plugins.log 2>&1; then
        sed 's/^/    /' .run/rabbitmq-plugins.log >&2 || true
        err "rabbitmq-plugins failed (run it as root?): sudo rabbitmq-plugins enable rabbitmq_management"
        exit 1
    fi
    if ! wait_for "RabbitMQ management on $MGMT_HOST:$MGMT_PORT" "$WAIT_S" port_open "$MGMT_HOST" "$MGMT_PORT"; then
        err "The management API did not come up; check: rabbitmq-plugins list; /var/log/rabbitmq/"
        exit 1
    fi
fi

# ---------------------------------------------------------------- PostgreSQL
hp="$(parse_url "$POSTGRES_URL" 5432)" || exit 1
read -r PG_HOST PG_PORT <<<"$hp"

pg_up() {
    if command -v pg_isready >/dev/null 2>&1; then
        # 0 = accepting connections; 1 = still starting up; 2 = nothing there
        timeout 5 pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
    else
        port_open "$PG_HOST" "$PG_PORT"
    fi
}

pg_installed_version() {
    # newest cluster version configured under /etc/postgresql, if any
    [[ -d /etc/postgresql ]] || return 1
    local v
    v="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$v" ]] || return 1
    echo "$v"
}

if pg_up; then
    log "PostgreSQL      $PG_HOST:$PG_PORT ok"
else
    log "PostgreSQL      $PG_HOST:$PG_PORT not reachable"
    if ! is_local_host "$PG_HOST"; then
        err "$PG_HOST is not this machine, so it is not started here: start it there or fix POSTGRES_URL"
        exit 1
    fi
    started=0
    if pg_version="$(pg_installed_version)" && command -v pg_ctlcluster >/dev/null 2>&1; then
        log "starting PostgreSQL: pg_ctlcluster --skip-systemctl-redirect $pg_version main start"
        if timeout 60 pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start \
            >.run/postgres-start.log 2>&1; then
            started=1
        elif grep -qi "already running" .run/postgres-start.log; then
            started=1
        else
            sed 's/^/    /' .run/postgres-start.log >&2 || true
        fi
    fi
    if (( ! started )) && [[ -x /etc/init.d/postgresql ]] && command -v service >/dev/null 2>&1; then
        log "starting PostgreSQL: service postgresql start"
        if timeout 60 service postgresql start >.run/postgres-start.log 2>&1; then
            started=1
        else
            sed 's/^/    /' .run/postgres-start.log >&2 || true
        fi
    fi
    if (( ! started )) && ! pg_installed_version >/dev/null && [[ ! -x /etc/init.d/postgresql ]]; then
        err "PostgreSQL is not installed. Install and start it:"
        err "  sudo apt-get install -y postgresql"
        err "  sudo pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
        err "  and let 'postgres' connect from 127.0.0.1 without a password (pg_hba.conf: trust),"
        err "  or put the password in POSTGRES_URL."
        docker_hint
        exit 1
    fi
    if ! wait_for "PostgreSQL on $PG_HOST:$PG_PORT" "$WAIT_S" pg_up; then
        err "PostgreSQL did not come up. Start it yourself (as root):"
        err "  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start   (or: service postgresql start)"
        err "  logs: /var/log/postgresql/"
        docker_hint
        exit 1
    fi
fi

# Credentials: a server that refuses our user fails later in obscure ways, so say it now.
if command -v psql >/dev/null 2>&1; then
    pg_check_url="${POSTGRES_URL%/}/postgres"
    # libpq knows no SQLAlchemy driver suffix: postgresql+psycopg2:// -> postgresql://
    if [[ "$pg_check_url" =~ ^([A-Za-z]+)\+[A-Za-z0-9_]+(://.*)$ ]]; then
        pg_check_url="${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
    fi
    if ! out="$(PGCONNECT_TIMEOUT=5 timeout 10 psql "$pg_check_url" -w -tAc 'select 1' 2>&1)"; then
        err "PostgreSQL answers but refuses the login of POSTGRES_URL=$POSTGRES_URL:"
        err "    $out"
        err "Allow it (pg_hba.conf: 'host all all 127.0.0.1/32 trust', then reload) or put the"
        err "password in POSTGRES_URL (postgresql://postgres:PASSWORD@127.0.0.1:5432)."
        exit 1
    fi
fi

# Connection slots. A service process keeps up to MAX_WORKERS (10) connections for its
# workers plus up to 2 each for its outbox relay and its dead-letter store (common.db):
# 84 for a cluster of six,
# and `make test` runs an e2e cluster beside the integration and unit tiers (the bench:
# a cluster, scale-out copies, nameko-examples). PostgreSQL's default of 100 is short.
# ALTER SYSTEM needs a restart to apply, done here only for a local Debian cluster on
# this port and only while no other client is connected (a restart would break it);
# otherwise it says what to run. PG_MIN_CONNECTIONS=0 skips the check.
PG_MIN_CONNECTIONS="${PG_MIN_CONNECTIONS:-200}"
pg_sql() { PGCONNECT_TIMEOUT=5 timeout 20 psql "$pg_check_url" -w -tAqc "$1"; }
if (( PG_MIN_CONNECTIONS > 0 )) && command -v psql >/dev/null 2>&1 \
        && max_conn="$(pg_sql 'show max_connections')" && (( max_conn < PG_MIN_CONNECTIONS )); then
    others="$(pg_sql "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()")" || others=1
    pg_cluster=""
    if is_local_host "$PG_HOST" && pg_version="$(pg_installed_version)" \
            && command -v pg_ctlcluster >/dev/null 2>&1 && command -v pg_lsclusters >/dev/null 2>&1; then
        pg_cluster="$(pg_lsclusters -h 2>/dev/null | awk -v v="$pg_version" -v p="$PG_PORT" '$1 == v && $2 == "main" && $3 == p {print $1 " " $2}')"
    fi
    if [[ -n "$pg_cluster" && "$others" == "0" ]]; then
        log "PostgreSQL max_connections is $max_conn, below $PG_MIN_CONNECTIONS: ALTER SYSTEM SET max_connections = $PG_MIN_CONNECTIONS, restarting the local cluster $pg_cluster"
        pg_sql "ALTER SYSTEM SET max_connections = $PG_MIN_CONNECTIONS" >/dev/null
        if ! timeout 60 pg_ctlcluster --skip-systemctl-redirect $pg_cluster restart >.run/postgres-restart.log 2>&1; then
            sed 's/^/    /' .run/postgres-restart.log >&2 || true
            err "the restart failed; run it yourself: pg_ctlcluster --skip-systemctl-redirect $pg_cluster restart"
            exit 1
        fi
        wait_for "PostgreSQL on $PG_HOST:$PG_PORT" "$WAIT_S" pg_up || exit 1
        log "PostgreSQL max_connections is now $(pg_sql 'show max_connections')"
    else
        err "PostgreSQL max_connections is $max_conn, below $PG_MIN_CONNECTIONS: with a full cluster"
        err "  and the test tiers at once, services may be refused connections. Not restarting it"
        err "  here (${others} other client(s) connected, or not a local cluster this script manages)."
        err "  When it is idle, as its superuser: ALTER SYSTEM SET max_connections = $PG_MIN_CONNECTIONS;"
        err "  then restart PostgreSQL (pg_ctlcluster --skip-systemctl-redirect <version> main restart)."
    fi
fi

# Redis: optional for `make run` (rate-limit counters live in memory unless
# RATE_LIMIT_STORAGE_URI says redis://), but the test suite checks the Redis storage.
if command -v redis-cli >/dev/null 2>&1 && ! timeout 3 redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    if command -v redis-server >/dev/null 2>&1; then
        log "starting the local Redis"
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
            >/dev/null 2>&1 || err "could not start Redis (the Redis rate-limit test will fail)"
    fi
fi

log "RabbitMQ and PostgreSQL are ready"
