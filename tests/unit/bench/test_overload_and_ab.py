"""bench.overload's figures and bench.ab's table, from made-up samples and runs."""

from __future__ import annotations

from bench import ab, overload
from bench.load import Sample


def test_overload_summary_separates_accepted_shed_and_failures():
    samples = ([Sample(0.0, 0.2, 201, f"o{n}") for n in range(10)]
               + [Sample(0.0, 0.01, 503, None, retry_after="1") for _ in range(5)]
               + [Sample(0.0, 30.0, 0, None, failure="timeout"),
                  Sample(0.0, 0.1, 0, None, failure="connection"),
                  Sample(0.0, 0.5, 502, None)])
    probes = [Sample(100.5, 3.0, 201, "p1"), Sample(104.0, 0.05, 201, "p2")]
    out = overload.summary(samples + probes, {"stopped": 100.0, "fast_s": 0.1,
                                              "probes": probes})
    assert out["codes"] == {"201": 12, "503": 5, "502": 1, "no answer (timeout)": 1,
                            "no answer (connection)": 1}
    assert out["shed"] == 5 and out["shed_p99_ms"] == 10.0
    assert out["retry_after"] == {"1": 5}
    assert out["client_timeouts"] == 1 and out["connection_errors"] == 1
    assert out["other_5xx"] == 1
    assert out["recovery_s"] == 4.05  # the first probe accepted within 100 ms ended then
    assert out["accepted_p50_ms"] == 200.0


def test_overload_summary_says_when_it_never_recovered():
    probes = [Sample(101.0, 2.0, 201, "p1")]
    out = overload.summary(probes, {"stopped": 100.0, "fast_s": 0.1, "probes": probes})
    assert out["recovery_s"] is None and out["shed_p50_ms"] is None


def run(confirmed: float, cpu_order: float) -> dict:
    return {"phases": [{"phase": "10/s", "accepted_per_s": 10.0,
                        "confirmed_per_s": confirmed, "post_p99_ms": 40.0,
                        "confirm_p99_ms": 250.0, "cpu_ms_per_order_net": None,
                        "totals_per_order": {"pg_round_trips": 60.0},
                        "cpu_ms_per_order": {"order_svc": cpu_order, "postgres": 10.0}}]}


def test_ab_table_gives_means_each_run_and_the_change():
    text = ab.table({"A": [run(9.0, 40.0), run(11.0, 60.0)],
                     "B": [run(10.0, 20.0), run(10.0, 30.0)]}, "A", "B")
    assert "Phase 10/s:" in text
    assert "| CPU ms/order order_svc | 50.0 | 40.0, 60.0 | 25.0 | 20.0, 30.0 | -50% |" in text
    assert "| CPU ms/order all | 60.0 | 50.0, 70.0 | 35.0 | 30.0, 40.0 | -42% |" in text
    assert "| confirmed/s | 10.0 | 9.0, 11.0 | 10.0 | 10.0, 10.0 | +0% |" in text
    assert "| CPU ms/order, net of rest | - | -, - | - | -, - | - |" in text
