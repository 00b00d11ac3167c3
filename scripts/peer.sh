#!/usr/bin/env bash
# `make bench-peer`: run nameko-examples (the nameko project's own example shop:
# products on Redis, orders on PostgreSQL, an HTTP gateway) beside ours and measure bare
# POST /orders with bench/peer.py. For scale: issue 14 compares our saga's rate to it.
#
#   PEER_SRC=DIR      a checkout of nameko-examples; default .run/peer/nameko-examples,
#                     cloned from GitHub when absent
#   PEER_PYTHON=EXE   Python 3.9 or 3.10 for the peer's virtualenv (its 2019 pins: kombu 4 /
#                     vine 1 do not import on 3.11); default python3.9, else python3.10
#   PEER_CLIENTS=16 PEER_SECONDS=30 PEER_RUNS=2   the load (closed loop) and its repeats
#
# Everything of the peer's is its own: virtualenv .run/peer/venv, AMQP vhost `peer`,
# database peer_orders (dropped and made anew each time), Redis db 15 (only its
# products:* keys), a free port for its gateway. What it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export EVENTLET_TESTS=1  # silences only eventlet's deprecation notice (see the Makefile)
run=.run/peer
venv="$run/venv"
src="${PEER_SRC:-$run/nameko-examples}"
repo_url=https://github.com/nameko/nameko-examples
mgmt="${RABBIT_MANAGEMENT_URI:-http://guest:guest@127.0.0.1:15672/}api"
pg="${POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432}"
log() { echo "[peer] $*"; }
mkdir -p "$run"

# ------------------------------------------------------------------ the peer's source
if [[ -z "${PEER_SRC:-}" && ! -d "$src/.git" ]]; then
    log "no PEER_SRC given and no $src: cloning $repo_url"
    if ! git clone --quiet "$repo_url" "$src"; then
        log "could not clone $repo_url (offline?). Get a checkout some other way and run:"
        log "  PEER_SRC=/path/to/nameko-examples make bench-peer"
        exit 1
    fi
fi
for f in products/products/service.py orders/orders/service.py gateway/gateway/service.py \
         orders/alembic.ini; do
    [[ -f "$src/$f" ]] || { log "$src is not a nameko-examples checkout (no $f)"; exit 1; }
done
src="$(cd "$src" && pwd)"
commit="$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)"
log "peer source $src (commit $commit)"

# ------------------------------------------------------------------ its virtualenv
# Its setup.py pins (commit 33cf470), plus exact versions for what those leave open
# that the newest releases broke (werkzeug.Response moved in 2.1, and 0.15.5 was the first
# 0.15 to compile its routes on Python 3.8+; alembic 1.0 wants
# SQLAlchemy 1.3). psycopg2-binary 2.8.2 has no wheel past Python 3.7: 2.8.6 is the
# same series with 3.9 wheels.
pins=(nameko==3.0.0rc6 nameko-sqlalchemy==1.5.0 alembic==1.0.10 marshmallow==2.19.2
      redis==3.2.1 psycopg2-binary==2.8.6 SQLAlchemy==1.3.24 Werkzeug==0.15.6
      kombu==4.6.11 amqp==2.6.1 vine==1.3.0 eventlet==0.40.4 dnspython==2.7.0
      greenlet==3.2.5 PyYAML==6.0.3)
if [[ ! -x "$venv/bin/python" ]]; then
    py="${PEER_PYTHON:-}"
    if [[ -z "$py" ]]; then
        for cand in python3.9 python3.10; do
            py="$(command -v "$cand" 2>/dev/null)" && "$py" -c '' 2>/dev/null && break
            py="$(ls -d "$HOME"/.pyenv/versions/"${cand#python}".*/bin/"$cand" 2>/dev/null | tail -n 1)"
            [[ -n "$py" ]] && break
        done
    fi
    if [[ -z "$py" ]] || ! "$py" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] <= (3, 10))'; then
        log "no Python 3.9/3.10 found for the peer (its kombu 4 does not import on 3.11):"
        log "  install one (apt-get install python3.9, or pyenv install 3.9) and/or set PEER_PYTHON"
        exit 1
    fi
    log "creating $venv with $py"
    "$py" -m venv "$venv"
fi
want="$(printf '%s\n' "${pins[@]}")"
if [[ "$(cat "$venv/.pins" 2>/dev/null)" != "$want" ]]; then
    log "installing the peer's pinned requirements into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
    echo "$want" > "$venv/.pins"
fi

# ------------------------------------------------------------------ broker, DB, Redis
bash scripts/ensure_infra.sh
curl -sf -m 10 -X PUT "$mgmt/vhosts/peer" >/dev/null
curl -sf -m 10 -X PUT -H 'content-type: application/json' \
    -d '{"configure":".*","write":".*","read":".*"}' "$mgmt/permissions/peer/guest" >/dev/null
export PGOPTIONS='--client-min-messages=warning'
psql "$pg/postgres" -qAtc 'DROP DATABASE IF EXISTS peer_orders WITH (FORCE)' >/dev/null
psql "$pg/postgres" -qAtc 'CREATE DATABASE peer_orders' >/dev/null
redis_uri="${PEER_REDIS_URI:-redis://127.0.0.1:6379/15}"
"$venv/bin/python" -c 'import sys, redis
r = redis.StrictRedis.from_url(sys.argv[1])
keys = r.keys("products:*")
keys and r.delete(*keys)' "$redis_uri"

# The peer's own config.yml files name no vhost nor port: ours, one per service.
port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
amqp="amqp://guest:guest@127.0.0.1:5672/peer"
mkdir -p "$run/conf"
printf 'AMQP_URI: %s\nREDIS_URI: %s\n' "$amqp" "$redis_uri" > "$run/conf/products.yml"
printf 'AMQP_URI: %s\nDB_URIS:\n  "orders:Base": %s/peer_orders\n' "$amqp" "$pg" > "$run/conf/orders.yml"
printf 'AMQP_URI: %s\nWEB_SERVER_ADDRESS: 127.0.0.1:%s\nPRODUCT_IMAGE_ROOT: http://127.0.0.1/img\n' \
    "$amqp" "$port" > "$run/conf/gateway.yml"

# ------------------------------------------------------------------ start, always stop
export PYTHONDONTWRITEBYTECODE=1  # leave the peer's checkout as it was
pids=()
stop_all() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    curl -sf -m 10 -X DELETE "$mgmt/vhosts/peer" >/dev/null || true
    [[ ${#pids[@]} -gt 0 ]] && log "stopped the peer's services"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

root="$(pwd)"
# Its alembic env.py builds the URL from DB_* (user postgres; trust auth here).
# Run from its source tree, as is: the package's directory on PYTHONPATH, nothing installed.
(cd "$src/orders" && PYTHONPATH="$src/orders" DB_HOST=127.0.0.1 DB_PASSWORD= DB_NAME=peer_orders \
    exec "$root/$venv/bin/alembic" upgrade head) > "$run/migrate.log" 2>&1 \
    || { log "its migration failed: see $run/migrate.log"; exit 1; }
for svc in products orders gateway; do
    (cd "$src/$svc" && PYTHONPATH="$src/$svc" exec "$root/$venv/bin/nameko" run --config "$root/$run/conf/$svc.yml" \
        "$svc.service") > "$run/$svc.log" 2>&1 &
    pids+=($!)
done
url="http://127.0.0.1:$port"
product='{"id": "1", "title": "bench", "passenger_capacity": 10, "maximum_speed": 5, "in_stock": 1000000000}'
for _ in $(seq 1 60); do
    curl -sf -m 5 -X POST -d "$product" "$url/products" >/dev/null 2>&1 && break
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || { log "a peer service died: see $run/*.log"; exit 1; }
    done
    sleep 1
done
curl -sf -m 5 "$url/products/1" >/dev/null || { log "the peer did not answer in 60 s: see $run/*.log"; exit 1; }
log "peer up at $url (gateway pid ${pids[2]}), product 1 seeded"

peer_json="$(printf '{"source": "%s", "commit": "%s", "python": "%s", "pins": "%s"}' \
    "$repo_url" "$commit" "$("$venv/bin/python" -V 2>&1)" "${pins[*]}")"
.venv/bin/python -m bench.peer --url "$url" --own "products=${pids[0]}" \
    --own "orders=${pids[1]}" --own "gateway=${pids[2]}" --database peer_orders \
    --clients "${PEER_CLIENTS:-16}" --seconds "${PEER_SECONDS:-30}" --runs "${PEER_RUNS:-2}" \
    --peer "$peer_json" "$@"
