#!/usr/bin/env bash
# `make bench-ab BASE=<git ref>`: a quick A/B of the working tree (B) against REF (A).
#
#   scripts/ab.sh REF [RUNS]      # RUNS (default 2) of each side, alternated: A B A B
#
# REF is checked out as a git worktree under .run/ab/ (the .venv is shared; its
# processes run their own code: the working directory comes first on sys.path, and
# `bench.ab check-tree` checks it). Each run starts that side's cluster on fresh
# databases and a fresh vhost, and measures it with THIS tree's bench (scripts/bench.sh
# with BENCH_CLUSTER_DIR); a run is AB_ARGS (default: 10 orders/s for 25 s, then 20 s of
# saturation with 16 clients; about 3 minutes with the cluster's start and stop).
# Writes bench/results/ab/<time>/{A-n,B-n}.{json,md,png} and ab.md (the A/B table).
#
# Settings: AB_PORT (gateway port of the benched clusters, default 8150), AB_ARGS,
# AB_ENV_A / AB_ENV_B (NAME=value ... added to that side's environment: the same code
# under two settings, e.g. BASE=HEAD AB_ENV_A="AMQP_QUEUE_TYPE=classic").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
here="$(pwd)"
ref="${1:?usage: scripts/ab.sh REF [RUNS]}"
runs="${2:-2}"
port="${AB_PORT:-8150}"
args="${AB_ARGS:---rates 10 --duration 25 --saturation 20 --clients 16 --users 12 --warmup 5 --idle 10 --overload 0 --products 3 --no-baselines}"
log() { echo "[ab] $*"; }

sha="$(git rev-parse --verify "$ref^{commit}")"
tree=".run/ab/${sha:0:12}"
if [[ ! -e "$tree/.git" ]]; then
    mkdir -p .run/ab
    git worktree prune
    git worktree add --detach "$tree" "$sha" >/dev/null
fi
[[ "$(git -C "$tree" rev-parse HEAD)" == "$sha" ]] || { log "$tree is not at $sha"; exit 1; }
out="bench/results/ab/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
log "A = $ref ($sha, $tree), B = the working tree ($(git rev-parse --short HEAD) + changes)"
log "profile: $args; $runs runs each, alternated; results in $out"

bench_side() {  # side n dir [NAME=value ...]
    if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
        log "port $port is taken: stop what listens there or set AB_PORT"; return 1
    fi
    log "run $1-$2 ($3${4:+, $4})"
    env ${4:-} GATEWAY_PORT="$port" BENCH_URL="http://127.0.0.1:$port" BENCH_FRESH=1 \
        BENCH_CLUSTER_DIR="$3" bash scripts/bench.sh $args --label "$1-$2" --out "$out/$1-$2" \
        > "$out/$1-$2.log" 2>&1 || log "run $1-$2 failed or found violations: see $out/$1-$2.log"
    tail -n 4 "$out/$1-$2.log" | sed 's/^/    /'
}

started=$SECONDS
for n in $(seq 1 "$runs"); do
    bench_side A "$n" "$here/$tree" "${AB_ENV_A:-}"
    bench_side B "$n" "$here" "${AB_ENV_B:-}"
done
{
    echo "A = $ref ($sha)${AB_ENV_A:+ with $AB_ENV_A}, B = working tree at $(git rev-parse --short HEAD) with its changes${AB_ENV_B:+ and $AB_ENV_B};"
    echo "profile: \`$args\`; $(date '+%Y-%m-%d %H:%M'), $(( (SECONDS - started) / 60 )) min"
    echo
} > "$out/ab.md.head"
.venv/bin/python -m bench.ab table "$out/ab.md.body" A B "$out"/*.json >/dev/null
cat "$out/ab.md.head" "$out/ab.md.body" > "$out/ab.md" && rm -f "$out"/ab.md.head "$out"/ab.md.body
cat "$out/ab.md"
log "done in $(( (SECONDS - started) / 60 )) min: $out/ab.md"
log "the worktree stays for the next A/B of $ref; remove it with: git worktree remove --force $tree"
