"""The overload phase: ~4x the measured saturation rate offered for a minute, then
how long until a single order is answered fast again.

Open loop with many separate clients (a connection each, 30 s client timeout, a new
Idempotency-Key per request): what a crowd does, not what a polite closed loop does.
Admission control should shed the excess at once (503 service_unavailable with
Retry-After) and keep the accepted requests fast; without it requests queue.
"""

from __future__ import annotations

import time
from collections import Counter

import eventlet

from bench.baselines import percentile
from bench.load import Phase, Sample, Shop, offer

CLIENT_TIMEOUT_S = 30
PROBE_GAP_S = 0.2
RECOVERY_LIMIT_S = 120


def run(shop: Shop, rate: float, duration: float, counter: list,
        fast_s: float) -> Phase:
    """Offer `rate` orders/s for `duration` s, then probe one order at a time until one
    is accepted within `fast_s`. The phase's `recovery` holds the probes."""
    phase = Phase(f"overload {rate:.0f}/s", rate, duration)
    pool = eventlet.GreenPool(int(rate * CLIENT_TIMEOUT_S * 1.5) + 100)
    offer(shop, phase, pool, counter, timeout=CLIENT_TIMEOUT_S, fresh=True)
    stopped = time.time()
    probes: list[Sample] = []
    while time.time() - stopped < RECOVERY_LIMIT_S:
        counter[0] += 1
        probe = shop.place(counter[0], timeout=CLIENT_TIMEOUT_S, fresh=True)
        probes.append(probe)
        if probe.status == 201 and probe.latency <= fast_s:
            break
        eventlet.sleep(PROBE_GAP_S)
    pool.waitall()
    phase.recovery = {"stopped": stopped, "fast_s": fast_s, "probes": probes}
    # The probes' orders are the phase's too (settled and counted with it).
    phase.samples.extend(probes)
    return phase


def summary(samples: list[Sample], recovery: dict) -> dict:
    """The overload figures of issue 14 point 7, from the offered requests' samples
    (probes included) and the recovery probes: answer codes, accepted and shed (503)
    latency p50/p99 in ms, Retry-After values, client timeouts, other 5xx, and the
    seconds from the end of the load until an order was accepted within fast_s."""
    codes = Counter(str(s.status) if s.status else f"no answer ({s.failure})" for s in samples)
    accepted = [s.latency for s in samples if s.status == 201]
    shed = [s.latency for s in samples if s.status == 503]
    probes = recovery["probes"]
    fast = [p for p in probes if p.status == 201 and p.latency <= recovery["fast_s"]]

    def ms(values, p):
        return round(1000 * percentile(values, p), 1) if values else None

    return {
        "codes": dict(sorted(codes.items())),
        "accepted_p50_ms": ms(accepted, 50), "accepted_p99_ms": ms(accepted, 99),
        "shed": len(shed), "shed_p50_ms": ms(shed, 50), "shed_p99_ms": ms(shed, 99),
        "retry_after": dict(Counter(s.retry_after for s in samples if s.retry_after)),
        "client_timeouts": sum(1 for s in samples if s.failure == "timeout"),
        "connection_errors": sum(1 for s in samples if s.failure == "connection"),
        "other_5xx": sum(1 for s in samples if 500 <= s.status < 600 and s.status != 503),
        "recovered_within_ms": round(1000 * recovery["fast_s"], 1),
        "recovery_s": round(fast[0].sent + fast[0].latency - recovery["stopped"], 2)
        if fast else None,
        "recovery_probes": [[round(p.sent - recovery["stopped"], 2), p.status,
                             round(1000 * p.latency, 1)] for p in probes[:100]],
    }
