#!/usr/bin/env bash
# `make run`: broker + DB up, migrations applied, every Procfile process started under
# supervisord (tools/supervise.py: a crashed process is restarted, the rest keep running),
# then wait until the gateway's /ready answers 200 and print where to go. Stays in the
# foreground; Ctrl-C (SIGINT) or SIGTERM (`make stop`) stops everything it started.
#
# Reads: GATEWAY_HOST (127.0.0.1), GATEWAY_PORT (8000), ADMIN_EMAIL (admin@example.com),
# RUN_READY_WAIT_S (90), AMQP_QUEUE_TYPE (classic here), plus whatever
# scripts/ensure_infra.sh and config.yml read.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GATEWAY_HOST="${GATEWAY_HOST:-127.0.0.1}"
GATEWAY_PORT="${GATEWAY_PORT:-8000}"
ADMIN_EMAIL="${ADMIN_EMAIL:-admin@example.com}"
READY_WAIT_S="${RUN_READY_WAIT_S:-90}"
STOP_WAIT_S=20
PIDFILE=.run/run.pid
# Services write through supervisord's pipes: without this their logs arrive in late bursts.
export PYTHONUNBUFFERED=1
# eventlet prints a multi-line deprecation notice at every import, in every process; this
# variable only silences that notice (eventlet/__init__.py reads it for nothing else).
export EVENTLET_TESTS=1
# One RabbitMQ node here: classic queues, which cost it 15-22 % less CPU per order than
# quorum queues on one node (docs/benchmarks.md, "Quorum or classic queues"). A cluster
# (compose, Helm, AMQP_URI with several nodes) keeps config.yml's quorum. Set
# AMQP_QUEUE_TYPE=quorum to run as in production; `make migrate` moves the queues.
export AMQP_QUEUE_TYPE="${AMQP_QUEUE_TYPE:-classic}"

log() { echo "[run] $*"; }
err() { echo "[run] $*" >&2; }

# Where to reach the gateway from here (a wildcard bind address is reached via loopback).
case "$GATEWAY_HOST" in
    0.0.0.0 | "") probe_host=127.0.0.1 ;;
    :: | "[::]") probe_host=::1 ;;
    *) probe_host="${GATEWAY_HOST#[}"; probe_host="${probe_host%]}" ;;
esac
if [[ "$probe_host" == *:* ]]; then url_host="[$probe_host]"; else url_host="$probe_host"; fi
BASE_URL="http://$url_host:$GATEWAY_PORT"
# Links in mails lead to this gateway unless PUBLIC_URL names another address (config.yml).
export PUBLIC_URL="${PUBLIC_URL:-$BASE_URL}"

port_open() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# http_get URL: body on stdout; fails unless the answer is 2xx. Bounded.
http_get() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -m 3 "$1" 2>/dev/null
    else
        .venv/bin/python - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
    sys.stdout.write(r.read().decode("utf-8", "replace"))
EOF
    fi
}

# ---------------------------------------------------------------- one copy only
if [[ ! -x .venv/bin/python ]]; then
    err "no .venv here: use 'make run' (it builds the virtualenv first) or 'make venv'"
    exit 1
fi
old_pid="$(cat "$PIDFILE" 2>/dev/null || true)"
if [[ -n "$old_pid" && "$old_pid" != "$$" ]] && kill -0 "$old_pid" 2>/dev/null \
    && grep -q "scripts/run.sh" "/proc/$old_pid/cmdline" 2>/dev/null; then
    err "make run is already running (pid $old_pid, gateway $BASE_URL)."
    err "Use that one, or stop it first: Ctrl-C in its terminal, or 'make stop'."
    exit 1
fi
if port_open "$probe_host" "$GATEWAY_PORT"; then
    err "something already listens on $probe_host:$GATEWAY_PORT, probably a previous run still alive."
    err "Not starting a second copy. Stop it ('make stop', or find it: ss -ltnp | grep :$GATEWAY_PORT),"
    err "or run this one elsewhere: GATEWAY_PORT=8001 make run"
    exit 1
fi

mkdir -p .run
echo $$ >"$PIDFILE"

# ---------------------------------------------------------------- signals
child=""     # what we are waiting for right now: ensure_infra, migrate, then supervisord
stopping=0
stop_started=0

on_signal() {
    if (( stopping )); then
        log "$1 again: still stopping (supervisord kills what is left after 15 s)"
        return
    fi
    stopping=1
    stop_started=$SECONDS
    echo
    log "$1 received: stopping everything"
    if [[ -n "$child" ]]; then
        kill -TERM "$child" 2>/dev/null || true
    fi
}
trap 'on_signal SIGINT' INT
trap 'on_signal SIGTERM' TERM
trap '[[ "$(cat "$PIDFILE" 2>/dev/null)" == "$$" ]] && rm -f "$PIDFILE"' EXIT

# wait_child: wait until $child has exited (a trapped signal interrupts `wait`; wait again),
# with at most STOP_WAIT_S once a stop was asked for; sets child_rc.
wait_child() {
    child_rc=0
    while :; do
        wait "$child" && child_rc=0 || child_rc=$?
        kill -0 "$child" 2>/dev/null || break
        if (( stopping )); then
            while kill -0 "$child" 2>/dev/null && (( SECONDS - stop_started < STOP_WAIT_S )); do
                sleep 0.5
            done
            if kill -0 "$child" 2>/dev/null; then
                err "pid $child still alive ${STOP_WAIT_S}s after SIGTERM: sending SIGKILL"
                kill -KILL "$child" 2>/dev/null || true
            fi
        fi
    done
    child=""
}

# step CMD...: run a setup step so that a signal can interrupt it at once.
step() {
    "$@" &
    child=$!
    wait_child
    if (( stopping )); then
        log "stopped before start-up finished"
        exit 0
    fi
    return "$child_rc"
}

# ---------------------------------------------------------------- start-up
# A JWT secret of this checkout's own, made on first start and kept in .run/ (never
# committed), unless JWT_SECRET is set: no published secret signs tokens here.
if [[ -z "${JWT_SECRET:-}" ]]; then
    if [[ ! -s .run/jwt-secret ]]; then
        mkdir -p .run
        (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))' \
            > .run/jwt-secret)
        log "made a random JWT secret for this checkout: .run/jwt-secret"
    fi
    JWT_SECRET="$(cat .run/jwt-secret)"
    export JWT_SECRET
fi

step bash scripts/ensure_infra.sh || { err "broker or database not available (see above)"; exit 1; }

log "migrating every service's database and seeding demo data: .venv/bin/python -m common.migrate --seed"
step .venv/bin/python -m common.migrate --seed || { err "migrations failed (see above)"; exit 1; }

procs="$(sed -n 's/^\([A-Za-z0-9_-]*\):.*/\1/p' Procfile | paste -sd ' ' -)"
# Scale-out: SCALE_ORDER_SVC=2 runs two order_svc processes (SCALE_GATEWAY too: the
# gateway processes share the port with SO_REUSEPORT).
scale=""
for proc in $procs; do
    var="SCALE_$(echo "$proc" | tr '[:lower:]' '[:upper:]')"
    if [[ -n "${!var:-}" ]]; then scale="${scale:+$scale,}$proc=${!var}"; fi
done
# Several gateways: one set of rate-limit counters for all of them (each would count
# alone in memory), in the local Redis when one answers, else said.
if (( ${SCALE_GATEWAY:-1} > 1 )) && [[ -z "${RATE_LIMIT_STORAGE_URI:-}" ]]; then
    if port_open 127.0.0.1 6379; then
        export RATE_LIMIT_STORAGE_URI="redis://127.0.0.1:6379/0"
        log "$SCALE_GATEWAY gateways share their rate-limit counters in $RATE_LIMIT_STORAGE_URI"
    else
        err "WARNING: $SCALE_GATEWAY gateways and no Redis on 127.0.0.1:6379: each counts its"
        err "rate limits alone (start Redis, or set RATE_LIMIT_STORAGE_URI=redis://host:port)"
    fi
fi
log "starting under supervisord: $procs${scale:+ (scale: $scale)}; a process that crashes is restarted"
# Everything supervisord prints also goes to .run/run.log (new each run) for `make logs`.
# tee ignores SIGINT/SIGTERM: it ends when supervisord closes the pipe, so the last words
# of the stopping processes still reach the terminal and the file.
: >.run/run.log
.venv/bin/python -m tools.supervise --scale "$scale" \
    > >(trap '' INT TERM; exec tee -a .run/run.log) 2>&1 &
supervisor_pid=$!
child=$supervisor_pid

banner() {
    local line="=================================================================="
    echo
    echo "$line"
    echo "  Order platform is $1"
    echo "    Shop        $BASE_URL/   (admin: $BASE_URL/#/admin, API reference: $BASE_URL/docs)"
    echo "    API         $BASE_URL   (try: curl $BASE_URL/ready)"
    echo "    Metrics     $BASE_URL/metrics, each service on its METRICS_PORT_<SERVICE> (9101-9106)"
    echo "    Logs        make logs   (also in .run/run.log)"
    echo "    Mail        .run/mail/*.eml (every email the platform sends, caught locally)"
    echo "    Admin       $ADMIN_EMAIL (password: ADMIN_PASSWORD)"
    echo "    Processes   $procs"
    echo "  Ctrl-C stops everything (or 'make stop' from another terminal)."
    echo "$line"
    echo
}

log "waiting up to ${READY_WAIT_S}s for $BASE_URL/ready"
deadline=$((SECONDS + READY_WAIT_S))
while (( ! stopping )) && kill -0 "$supervisor_pid" 2>/dev/null; do
    if http_get "$BASE_URL/ready" >/dev/null; then
        banner "up: $BASE_URL"
        break
    fi
    if (( SECONDS >= deadline )); then
        why=""
        if command -v curl >/dev/null 2>&1; then
            why="$(curl -sS -m 3 "$BASE_URL/ready" 2>&1 || true)"
        fi
        err "WARNING: not ready after ${READY_WAIT_S}s; /ready says: ${why:-no answer}"
        err "Everything keeps running: read the process logs above."
        banner "running but NOT READY: $BASE_URL"
        break
    fi
    sleep 1
done

wait_child
rc=$child_rc
if (( stopping )); then
    log "stopped"
    exit 0
fi
err "supervisord exited on its own with code $rc (its output is above)"
exit "$rc"
