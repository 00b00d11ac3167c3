#!/usr/bin/env bash
# `make bench`: measure the saga under load. Uses a cluster already answering at
# BENCH_URL (default http://127.0.0.1:$GATEWAY_PORT); otherwise starts one as `make run`
# does, on databases of its own (bench_<service>), benches it, and stops it.
# Extra arguments go to `python -m bench.saga` (e.g. make bench ARGS="--rates 25 50").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export EVENTLET_TESTS=1
port="${GATEWAY_PORT:-8000}"
url="${BENCH_URL:-http://127.0.0.1:$port}"
log() { echo "[bench] $*"; }

if curl -sf -m 3 "$url/ready" >/dev/null 2>&1; then
    log "using the cluster at $url"
    exec .venv/bin/python -m bench.saga "$@"
fi

log "no cluster at $url: starting one for the bench (databases bench_<service>)"
services="$(.venv/bin/python -c 'from common.config import load_config; print(" ".join(load_config()["SERVICES"]))')"
base="${POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432}"
for svc in $services; do
    export "DATABASE_URL_$(echo "$svc" | tr '[:lower:]' '[:upper:]')=$base/bench_$svc"
done
# Generous limits: the bench is one client address placing thousands of orders.
export RATE_LIMIT_ORDERS="${RATE_LIMIT_ORDERS:-1000000/minute}"
export RATE_LIMIT_AUTH="${RATE_LIMIT_AUTH:-1000000/minute}"
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
# Ship and deliver at once: the bench follows every order to DELIVERED and counts the
# CPU of the whole saga; the demo's delays are waiting, not work.
export DELIVERY_SHIP_AFTER_S="${DELIVERY_SHIP_AFTER_S:-0}"
export DELIVERY_DELIVER_AFTER_S="${DELIVERY_DELIVER_AFTER_S:-0}"
# The bench users' tokens must outlive a run (about 12 minutes with the defaults).
export JWT_ACCESS_TTL_S="${JWT_ACCESS_TTL_S:-3600}"
mkdir -p .run
bash scripts/run.sh > .run/bench-cluster.log 2>&1 &
run_pid=$!
trap 'kill -TERM $run_pid 2>/dev/null; wait $run_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    curl -sf -m 3 "$url/ready" >/dev/null 2>&1 && break
    kill -0 $run_pid 2>/dev/null || { log "the cluster did not start: see .run/bench-cluster.log"; exit 1; }
    sleep 1
done
curl -sf -m 3 "$url/ready" >/dev/null || { log "not ready after 120 s: see .run/bench-cluster.log"; exit 1; }
log "cluster ready at $url"
.venv/bin/python -m bench.saga "$@"
