"""bench/peer.py and bench/peer_procs.py: the pure parts of `make bench-peer`."""

import pytest

from bench import peer
from bench.peer_procs import TICK, classify, group_deltas, parse_stat


def test_parse_stat_reads_cpu_ppid_and_start_past_a_command_with_spaces_and_parens():
    # pid (comm) state ppid ... utime(14) stime(15) cutime(16) cstime(17) ... starttime(22)
    fields = ["S", "7"] + ["0"] * 9 + [str(3 * TICK), str(TICK), str(2 * TICK), "0"]
    fields += ["0"] * 4 + ["12345"] + ["0"] * 10
    stat = parse_stat("42 (nameko run) (x)) " + " ".join(fields))
    assert stat == {"ppid": 7, "cpu_s": 4.0, "children_cpu_s": 2.0, "start": 12345}


@pytest.mark.parametrize(("comm", "cmdline", "group"), [
    ("postgres", "postgres: 15/main: postgres peer_orders 127.0.0.1(5432) idle",
     "postgres_backends"),
    ("postgres", "postgres: postgres peer_orders [local] SELECT", "postgres_backends"),
    ("postgres", "postgres: 15/main: postgres bench_order_svc 127.0.0.1(40000) idle", None),
    ("postgres", "postgres: 15/main: logical replication launcher", "postgres_shared"),
    ("postgres", "postgres: 15/main: walwriter", "postgres_shared"),
    ("postgres", "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main",
     "postgres_shared"),
    ("beam.smp", "/usr/lib/erlang/erts/bin/beam.smp -- -s rabbit boot", "rabbitmq"),
    ("beam.smp", "/usr/lib/erlang/erts/bin/beam.smp -- -s some_other_app", None),
    ("redis-server", "redis-server 127.0.0.1:6379", "redis"),
    ("python", "nameko run orders.service", None),
])
def test_classify_counts_only_the_peer_database_backends_and_shared_servers(comm, cmdline,
                                                                           group):
    assert classify(comm, cmdline, "peer_orders") == group


def test_group_deltas_counts_a_process_born_in_the_window_whole_and_never_negative():
    base = {(1, 10): ("orders", 5.0), (2, 20): ("postgres_backends", 1.0)}
    last = {(1, 10): ("orders", 5.5), (2, 20): ("postgres_backends", 1.25),
            (3, 30): ("postgres_backends", 0.5),   # a backend born meanwhile
            (4, 40): ("redis", 0.0)}
    base[(4, 40)] = ("redis", 0.1)                 # pid reuse cannot go backwards
    assert group_deltas(base, last) == {"orders": 0.5, "postgres_backends": 0.75,
                                        "redis": 0.0}


def test_summarise_keeps_the_window_and_times_only_successes():
    samples = [(0.5, 9.0, 200),                     # before the window
               (1.0, 0.010, 200), (2.0, 0.020, 200), (3.0, 0.030, 200),
               (3.5, 1.0, 500), (4.0, 2.0, 0),      # errors: counted, not timed
               (6.0, 9.0, 200)]                     # after it
    out = peer.summarise(samples, 1.0, 5.0)
    assert out == {"orders": 3, "errors": 2, "orders_per_s": 0.8,
                   "p50_ms": 20.0, "p99_ms": 30.0}


def test_summarise_with_no_success_has_no_latency():
    assert peer.summarise([(1.0, 0.1, 0)], 0.0, 2.0)["p50_ms"] is None


def test_per_order_subtracts_the_idle_rate_over_the_window():
    used = {"gateway": 1.0, "rabbitmq": 0.6}
    idle = {"rabbitmq": 0.01, "redis": 0.002}
    got = peer.per_order(used, idle, window_s=10.0, orders=100)
    assert got == {"gateway": 10.0, "rabbitmq": 5.0, "redis": -0.2}


def test_mean_rates_of_the_windows_on_either_side():
    assert peer.mean_rates({"a": 1.0, "b": 2.0}, {"a": 3.0}) == {"a": 2.0, "b": 1.0}


def test_ours_reference_compares_our_saturation_phase_to_the_peer_rate():
    latest = {"when": "2026-01-01 00:00:00", "phases": [
        {"phase": "10/s", "accepted_per_s": 10.0, "confirmed_per_s": 9.9},
        {"phase": "saturation (32 clients)", "accepted_per_s": 50.04, "confirmed_per_s": 44.0}]}
    ours = peer.ours_reference(latest, peer_per_s=110.0)
    assert ours["phase"] == "saturation (32 clients)"
    assert (ours["accepted_per_s"], ours["confirmed_per_s"]) == (50.0, 44.0)
    assert ours["ratio_confirmed_to_peer"] == 0.4
    assert peer.ours_reference(None, 110.0) is None
    assert peer.ours_reference({"phases": [{"phase": "5/s"}]}, 110.0) is None


def test_table_has_a_column_per_run_and_the_comparison_line():
    run = {"orders_per_s": 100.0, "p50_ms": 50.0, "p99_ms": 90.0, "orders": 3000,
           "errors": 0, "cpu_ms_per_order": {"gateway": 4.0}, "cpu_ms_per_order_total": 12.0,
           "postgres_whole_cluster_ms_per_order": 2.0, "others_busy_cores": 0.1,
           "load_client_ms_per_order": 3.0}
    ours = {"phase": "saturation (32 clients)", "when": "x", "accepted_per_s": 45.0,
            "confirmed_per_s": 44.0, "ratio_confirmed_to_peer": 0.44}
    text = peer.table([run, dict(run, orders_per_s=104.5)], ours)
    lines = text.splitlines()
    assert lines[0].split() == ["run", "1", "run", "2"]
    assert lines[1].split() == ["orders_per_s", "100", "104.5"]
    assert "cpu ms/order redis" in text and "0.44x the peer" in lines[-1]
