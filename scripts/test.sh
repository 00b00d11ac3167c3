#!/usr/bin/env bash
# `make test`: `ruff check` first (a lint error fails the run before any test), then the
# tiers tests/unit, tests/integration, tests/e2e in parallel, then tests/faults and
# tests/cluster, each alone; one pytest process each (TEST_TIER=<tier> tells the fixtures which databases/vhosts are theirs),
# logs in .run/test-<tier>.log; then every log in order, a summary, and one closing line
# "N passed, N failed[, N skipped]". Arguments are passed to every tier's pytest.
#
# Reads: TEST_TIER_TIMEOUT_S (1800): a tier still running after that is stopped and failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The first three share nothing and run at once; the fault tier restarts the machine's
# RabbitMQ and PostgreSQL, so it runs alone, after them; the cluster tier starts three
# RabbitMQ nodes of its own and kills one, alone too, last.
PARALLEL_TIERS=(unit integration e2e)
SERIAL_TIERS=(faults cluster)
TIERS=("${PARALLEL_TIERS[@]}" "${SERIAL_TIERS[@]}")
TIER_TIMEOUT_S="${TEST_TIER_TIMEOUT_S:-1800}"

log() { echo "[test] $*"; }
err() { echo "[test] $*" >&2; }

if [[ ! -x .venv/bin/pytest ]]; then
    err "no .venv/bin/pytest: use 'make test' (it builds the virtualenv first) or 'make venv'"
    exit 1
fi
mkdir -p .run

log "ruff check ."
.venv/bin/ruff check . || { err "ruff found problems (above): no tests run"; exit 1; }

bash scripts/ensure_infra.sh || { err "broker or database not available: no tests run"; exit 1; }

has_test_files() {
    [[ -n "$(find "$1" \( -name 'test_*.py' -o -name '*_test.py' \) -print -quit 2>/dev/null)" ]]
}

# pytest's final summary line: "=== 3 passed, 1 skipped in 0.12s ===" (or with -q, bare).
summary_line() {
    sed 's/\x1b\[[0-9;]*m//g' "$1" \
        | grep -E '^(=+ )?[^=]*( in [0-9]+(\.[0-9]+)?s)( \([0-9:]+\))?( =+)?$' \
        | tail -n 1 | sed -E 's/^=+ //; s/ =+$//' || true
}

# count WORD LINE: the number before WORD in a summary line (0 if absent).
count() {
    local n
    n="$(grep -oE "[0-9]+ $1" <<<"$2" | head -n 1 | cut -d' ' -f1 || true)"
    echo "${n:-0}"
}

declare -A PID RC STATUS NOTE SUMMARY
running=()

stop_tiers() {
    echo
    err "interrupted: stopping the test tiers"
    local t
    for t in "${running[@]}"; do
        kill -TERM "${PID[$t]}" 2>/dev/null || true
    done
    exit 130
}
trap stop_tiers INT TERM

start_tier() {
    local tier=$1 dir="tests/$1" logfile=".run/test-$1.log"
    shift
    if [[ ! -d "$dir" ]]; then
        echo "no directory $dir" >"$logfile"
        return
    fi
    log "starting tier $tier: pytest $dir $* (log: $logfile)"
    # timeout forwards SIGTERM to pytest; -k: SIGKILL 30 s later if that did not end it.
    TEST_TIER="$tier" timeout -k 30 "$TIER_TIMEOUT_S" .venv/bin/pytest "$dir" "$@" >"$logfile" 2>&1 &
    PID[$tier]=$!
    running+=("$tier")
}

wait_tiers() {
    local tier rc
    for tier in "$@"; do
        [[ -n "${PID[$tier]:-}" ]] || continue
        rc=0
        wait "${PID[$tier]}" || rc=$?
        RC[$tier]=$rc
    done
}

# The browser tests drive Debian's Chromium: install it when missing and we may.
if [[ ! -x /usr/bin/chromium ]]; then
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing chromium for the browser tests (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            chromium fonts-dejavu-core </dev/null >/dev/null
    else
        err "no /usr/bin/chromium: the browser tests will fail; install it with" \
            "'sudo apt-get install -y chromium fonts-dejavu-core'"
    fi
fi

for tier in "${PARALLEL_TIERS[@]}"; do
    start_tier "$tier" "$@"
done
log "waiting for: ${running[*]:-nothing}"
wait_tiers "${PARALLEL_TIERS[@]}"
for tier in "${SERIAL_TIERS[@]}"; do
    start_tier "$tier" "$@"
    log "waiting for: $tier (alone: it restarts the broker and the database)"
    wait_tiers "$tier"
done
trap - INT TERM

total_passed=0
total_failed=0
total_skipped=0
any_failed=0

for tier in "${TIERS[@]}"; do
    dir="tests/$tier"
    logfile=".run/test-$tier.log"
    echo
    echo "==================== [test] tier $tier ($logfile) ===================="
    cat "$logfile"

    line=""
    [[ -f "$logfile" ]] && line="$(summary_line "$logfile")"
    passed="$(count passed "$line")"
    failed="$(count failed "$line")"
    errors="$(count 'errors?' "$line")"
    skipped="$(count skipped "$line")"
    deselected="$(count deselected "$line")"
    failed=$((failed + errors))

    if [[ ! -d "$dir" ]]; then
        STATUS[$tier]="absent"
        NOTE[$tier]="no $dir"
    else
        rc="${RC[$tier]}"
        case "$rc" in
            0)
                STATUS[$tier]="ok" ;;
            5)
                # no test collected: fine for an empty tier or when ARGS deselected everything
                if has_test_files "$dir" && (( deselected == 0 )); then
                    STATUS[$tier]="FAILED"
                    NOTE[$tier]="(no test collected although $dir has test files)"
                else
                    STATUS[$tier]="empty"
                fi ;;
            124 | 137)
                STATUS[$tier]="FAILED"
                NOTE[$tier]="(stopped after TEST_TIER_TIMEOUT_S=${TIER_TIMEOUT_S}s)" ;;
            *)
                STATUS[$tier]="FAILED"
                NOTE[$tier]="(pytest exit code $rc)" ;;
        esac
        if [[ "${STATUS[$tier]}" == FAILED ]] && (( failed == 0 )); then
            failed=1   # a tier that failed without counting a failure still counts as one
        fi
    fi
    [[ "${STATUS[$tier]}" == FAILED ]] && any_failed=1
    if [[ -d "$dir" ]]; then SUMMARY[$tier]="${line:-no pytest summary line}"; else SUMMARY[$tier]=""; fi
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + skipped))
done

echo
echo "==================== [test] summary ===================="
for tier in "${TIERS[@]}"; do
    printf '[test] %-12s %-7s %s %s\n' "$tier" "${STATUS[$tier]}" "${SUMMARY[$tier]}" "${NOTE[$tier]:-}"
done
closing="$total_passed passed, $total_failed failed"
(( total_skipped > 0 )) && closing+=", $total_skipped skipped"
echo "$closing"
exit "$any_failed"
