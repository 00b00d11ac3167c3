"""`make check`: read the live system over RPC and report every violation of invariants 1-5.

    python -m tools.check              # wait up to 30 s for in-flight orders to settle
    python -m tools.check --wait 0     # one look, now

Importable: `wait_until_clean(pool)` returns the final Report, for tests and benchmarks.
Exit status 1 when anything is violated.
"""

from __future__ import annotations

import argparse
import sys
import time

from common.config import load_config
from common.errors import ServiceError
from common.rpc import RpcPool
from tools.invariants import Report, Snapshot, check


def all_pages(pool: RpcPool, service: str, method: str, **kwargs) -> list[dict]:
    items, cursor = [], None
    while True:
        page = pool.call(service, method, limit=100, cursor=cursor, **kwargs)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def snapshot(pool: RpcPool) -> Snapshot:
    return Snapshot(stock=all_pages(pool, "inventory_svc", "list_stock"),
                    orders=all_pages(pool, "order_svc", "list_orders"),
                    payments=all_pages(pool, "payment_svc", "list_payments"),
                    shipments=all_pages(pool, "delivery_svc", "list_shipments"),
                    notifications=all_pages(pool, "notify_svc", "list_notifications",
                                            detailed=True))


def wait_until_clean(pool: RpcPool, timeout: float = 30.0, interval: float = 0.5) -> Report:
    """Look again until quiet and clean, or `timeout`: the system is eventually consistent."""
    deadline = time.monotonic() + timeout
    while True:
        current = snapshot(pool)
        final = time.monotonic() >= deadline
        report = check(current, final=final)
        if (report.clean and current.in_flight == 0) or final:
            report.counts["in_flight"] = current.in_flight
            return report
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check invariants 1-5 of the live system.")
    parser.add_argument("--wait", type=float, default=30.0,
                        help="seconds to wait for in-flight orders to settle (default 30)")
    args = parser.parse_args(argv)
    config = load_config()
    pool = RpcPool(config, size=2, timeout=float(config["RPC_TIMEOUT_S"]))
    try:
        report = wait_until_clean(pool, timeout=args.wait)
    except ServiceError as exc:
        print(f"cannot check: {exc} (is `make run` running?)", file=sys.stderr)
        return 2
    finally:
        pool.close()
    print("checked: " + ", ".join(f"{k}={v}" for k, v in report.counts.items()))
    for violation in report.violations:
        print(violation)
    print(f"violations: {len(report.violations)}")
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
