#!/usr/bin/env bash
# `make bench`: measure the saga under load. Uses a cluster already answering at
# BENCH_URL (default http://127.0.0.1:$GATEWAY_PORT); otherwise starts one as `make run`
# does, on databases of its own (bench_<service>) and a vhost of its own (BENCH_VHOST,
# default bench), benches it, and stops it.
# Extra arguments go to `python -m bench.saga` (e.g. make bench ARGS="--rates 25 50").
#
#   BENCH_CLUSTER_DIR=DIR  start the cluster from another checkout (its scripts/run.sh,
#                          its code; scripts/ab.sh uses it) and check it runs DIR's code;
#                          the measuring is always this tree's bench code
#   BENCH_FRESH=1          drop the bench_* databases and empty the vhost first
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
here="$(pwd)"
export EVENTLET_TESTS=1
port="${GATEWAY_PORT:-8000}"
url="${BENCH_URL:-http://127.0.0.1:$port}"
cluster_dir="$(cd "${BENCH_CLUSTER_DIR:-$here}" && pwd)"
log() { echo "[bench] $*"; }

if curl -sf -m 3 "$url/ready" >/dev/null 2>&1; then
    if [[ "$cluster_dir" != "$here" ]]; then
        log "something already answers at $url: not benching it as $cluster_dir's cluster"
        log "(stop it, or choose another GATEWAY_PORT)"
        exit 1
    fi
    log "using the cluster at $url"
    exec .venv/bin/python -m bench.saga "$@"
fi

log "no cluster at $url: starting one from $cluster_dir (databases bench_<service>)"
if timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/1025' 2>/dev/null; then
    log "port 1025 is taken (another cluster's mail sink? the Procfile's sink needs it)"
    exit 1
fi
bash scripts/ensure_infra.sh
services="$(.venv/bin/python -c 'from common.config import load_config; print(" ".join(load_config()["SERVICES"]))')"
base="${POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432}"
for svc in $services; do
    export "DATABASE_URL_$(echo "$svc" | tr '[:lower:]' '[:upper:]')=$base/bench_$svc"
done
# A vhost of its own: the broker's counters are the cluster's alone, and a `make run`
# on the default vhost does not share its queues.
if [[ -z "${AMQP_URI:-}" ]]; then
    export AMQP_URI="amqp://guest:guest@127.0.0.1:5672/${BENCH_VHOST:-bench}"
    vhost_api="${RABBIT_MANAGEMENT_URI:-http://guest:guest@127.0.0.1:15672/}api"
    curl -sf -m 10 -X PUT "$vhost_api/vhosts/${BENCH_VHOST:-bench}" >/dev/null
    curl -sf -m 10 -X PUT -H 'content-type: application/json' \
        -d '{"configure":".*","write":".*","read":".*"}' \
        "$vhost_api/permissions/${BENCH_VHOST:-bench}/guest" >/dev/null
fi
if [[ "${BENCH_FRESH:-0}" == 1 ]]; then
    log "fresh: dropping the bench_* databases and emptying vhost ${AMQP_URI##*/}"
    .venv/bin/python -m bench.ab fresh
fi
# Generous limits: the bench is one client address placing thousands of orders.
export RATE_LIMIT_ORDERS="${RATE_LIMIT_ORDERS:-1000000/minute}"
export RATE_LIMIT_AUTH="${RATE_LIMIT_AUTH:-1000000/minute}"
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
# Ship and deliver at once: the bench follows every order to DELIVERED and counts the
# CPU of the whole saga; the demo's delays are waiting, not work.
export DELIVERY_SHIP_AFTER_S="${DELIVERY_SHIP_AFTER_S:-0}"
export DELIVERY_DELIVER_AFTER_S="${DELIVERY_DELIVER_AFTER_S:-0}"
# The bench users' tokens must outlive a run (about 15 minutes with the defaults).
export JWT_ACCESS_TTL_S="${JWT_ACCESS_TTL_S:-3600}"
mkdir -p .run "$cluster_dir/.run"
cluster_log="$cluster_dir/.run/bench-cluster.log"
if [[ "$cluster_dir" != "$here" ]]; then
    [[ -x "$cluster_dir/.venv/bin/python" ]] || ln -sfn "$here/.venv" "$cluster_dir/.venv"
    # The proof that its processes import its code: the .pyc files they write there.
    (unset PYTHONDONTWRITEBYTECODE; exec bash "$cluster_dir/scripts/run.sh") > "$cluster_log" 2>&1 &
else
    bash scripts/run.sh > "$cluster_log" 2>&1 &
fi
run_pid=$!
trap 'kill -TERM $run_pid 2>/dev/null; wait $run_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    curl -sf -m 3 "$url/ready" >/dev/null 2>&1 && break
    kill -0 $run_pid 2>/dev/null || { log "the cluster did not start: see $cluster_log"; exit 1; }
    sleep 1
done
curl -sf -m 3 "$url/ready" >/dev/null || { log "not ready after 120 s: see $cluster_log"; exit 1; }
log "cluster ready at $url"
if [[ "$cluster_dir" != "$here" ]]; then
    .venv/bin/python -m bench.ab check-tree "$cluster_dir"
fi
.venv/bin/python -m bench.saga "$@"
