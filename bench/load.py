"""Load phases against the gateway: open-loop fixed rates and closed-loop saturation."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field

import eventlet
import requests

from bench.baselines import percentile


@dataclass
class Sample:
    sent: float
    latency: float
    status: int                    # 0: no answer (see failure)
    order_id: str | None
    retry_after: str | None = None  # the Retry-After header of the answer, as sent
    failure: str | None = None      # "timeout" or "connection" when there was no answer


@dataclass
class Phase:
    name: str
    offered: float | None          # orders/s offered (None: saturation)
    duration: float
    samples: list[Sample] = field(default_factory=list)
    cpu_s: dict = field(default_factory=dict)
    recovery: dict | None = None   # the overload phase's recovery probes (bench/overload.py)

    def summary(self, confirmed_at: dict, delivered: set) -> dict:
        ok = [s for s in self.samples if s.status == 201]
        lat = [s.latency for s in ok]
        waits = [confirmed_at[s.order_id] - s.sent for s in ok if s.order_id in confirmed_at]
        first = min((s.sent for s in ok), default=0)
        last_confirm = max((confirmed_at[s.order_id] for s in ok
                            if s.order_id in confirmed_at), default=first)
        accepted = len(ok)
        return {
            "phase": self.name, "offered_per_s": self.offered, "duration_s": self.duration,
            "requests": len(self.samples), "accepted": accepted,
            "finished": sum(1 for s in ok if s.order_id in delivered),
            "accepted_per_s": accepted / self.duration,
            "errors": len(self.samples) - accepted,
            "post_p50_ms": 1000 * percentile(lat, 50) if lat else None,
            "post_p95_ms": 1000 * percentile(lat, 95) if lat else None,
            "post_p99_ms": 1000 * percentile(lat, 99) if lat else None,
            "confirmed": len(waits),
            "confirmed_per_s": len(waits) / max(last_confirm - first, 1e-9) if waits else 0,
            "confirm_p50_ms": 1000 * percentile(waits, 50) if waits else None,
            "confirm_p99_ms": 1000 * percentile(waits, 99) if waits else None,
            "cpu_ms_per_order": {name: round(1000 * s / accepted, 2) if accepted else None
                                 for name, s in sorted(self.cpu_s.items())},
        }


def accepted_ids(phase: Phase) -> list[str]:
    return [s.order_id for s in phase.samples if s.status == 201]


class Shop:
    """Bench users (each with a session and a live stream) and bench products."""

    def __init__(self, url: str, users: list[dict], skus: list[str]):
        self.url, self.users, self.skus = url, users, skus
        self.sessions = [requests.Session() for _ in users]
        self.confirmed_at: dict[str, float] = {}
        self.final_at: dict[str, float] = {}  # DELIVERED or CANCELLED: nothing more to do
        self.delivered: set[str] = set()      # the finished orders costs are counted per
        self.placed_by: dict[str, int] = {}  # order id -> index of the user who placed it
        self._streams: list = []

    def open_streams(self) -> None:
        for user in self.users:
            self._streams.append(eventlet.spawn(self._follow, user["token"]))

    def _follow(self, token: str) -> None:
        """Follow one user's stream for good: the gateway drops a stream whose client
        falls 1,000 messages behind (this client does, at 200 orders/s on two cores);
        reconnect with Last-Event-ID, and `settle` reads what is still missing."""
        last_id = None
        while True:
            headers = {"Last-Event-ID": last_id} if last_id else {}
            try:
                with requests.get(f"{self.url}/events/stream", headers=headers,
                                  params={"access_token": token}, stream=True,
                                  timeout=(5, 60)) as answer:
                    event = None
                    for line in answer.iter_lines(decode_unicode=True):
                        if line.startswith("id:"):
                            last_id = line[3:].strip()
                        elif line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:") and event == "order.status":
                            self._note(json.loads(line[5:]), time.time())
            except (requests.RequestException, ValueError):
                pass
            eventlet.sleep(0.5)

    def _note(self, status: dict, at: float) -> None:
        if status["status"] == "CONFIRMED":
            self.confirmed_at.setdefault(status["order_id"], at)
        elif status["status"] in ("DELIVERED", "CANCELLED"):
            self.final_at.setdefault(status["order_id"], at)
            if status["status"] == "DELIVERED":
                self.delivered.add(status["order_id"])

    def settle(self, order_ids: list[str], timeout: float) -> None:
        """Wait until every order is DELIVERED or CANCELLED; orders the stream has not
        shown final after a quiet spell are read with GET /orders/{id} instead (their
        final time is then when they were read: it only bounds a CPU window)."""
        deadline, asked_at = time.monotonic() + timeout, time.monotonic()
        while True:
            missing = [order_id for order_id in order_ids if order_id not in self.final_at]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(missing)} orders not delivered in {timeout:.0f} s")
            if time.monotonic() - asked_at > 5:
                asked_at = time.monotonic()
                for order_id in missing[:200]:
                    self._read_order(order_id)
            eventlet.sleep(0.2)

    def _read_order(self, order_id: str) -> None:
        user = self.placed_by.get(order_id)
        if user is None:
            return
        try:
            answer = self.sessions[user].get(
                f"{self.url}/orders/{order_id}", timeout=10,
                headers={"Authorization": f"Bearer {self.users[user]['token']}"})
            if answer.status_code == 200:
                self._note({"order_id": order_id, "status": answer.json()["status"]},
                           time.time())
        except (requests.RequestException, ValueError):
            pass

    def close(self) -> None:
        for thread in self._streams:
            thread.kill()

    def place(self, n: int, timeout: float = 30, fresh: bool = False) -> Sample:
        """POST one order (a new Idempotency-Key each) as user n mod users; `fresh`: on a
        connection of its own, as one of many separate clients would."""
        user = n % len(self.users)
        body = {"items": [{"sku": self.skus[n % len(self.skus)], "quantity": 1}]}
        headers = {"Authorization": f"Bearer {self.users[user]['token']}",
                   "Idempotency-Key": str(uuid.uuid4())}
        sent = time.time()
        retry_after = failure = None
        try:
            session = requests if fresh else self.sessions[user]
            answer = session.post(f"{self.url}/orders", json=body, headers=headers,
                                  timeout=timeout)
            status, retry_after = answer.status_code, answer.headers.get("Retry-After")
            order_id = answer.json().get("id") if status == 201 else None
            if order_id:
                self.placed_by[order_id] = user
        except requests.Timeout:
            status, order_id, failure = 0, None, "timeout"
        except (requests.RequestException, ValueError):
            status, order_id, failure = 0, None, "connection"
        return Sample(sent, time.time() - sent, status, order_id, retry_after, failure)


def offer(shop: Shop, phase: Phase, pool: eventlet.GreenPool, counter: list,
          **place_options) -> None:
    """Open loop: an order every 1/phase.offered s for phase.duration s, whatever the
    answers, each in a green thread of `pool` that appends its Sample to the phase."""
    started = time.perf_counter()
    for n in range(int(phase.offered * phase.duration)):
        delay = started + n / phase.offered - time.perf_counter()
        if delay > 0:
            eventlet.sleep(delay)
        counter[0] += 1
        pool.spawn(lambda k=counter[0]: phase.samples.append(shop.place(k, **place_options)))


def fixed_rate(shop: Shop, rate: float, duration: float, counter: list) -> Phase:
    """Open loop: an order every 1/rate s whatever the answers, for `duration` s."""
    phase = Phase(f"{rate:g}/s", rate, duration)
    pool = eventlet.GreenPool(2000)
    offer(shop, phase, pool, counter)
    pool.waitall()
    return phase


def saturation(shop: Shop, clients: int, duration: float, counter: list) -> Phase:
    """Closed loop: `clients` place orders back to back for `duration` s."""
    phase = Phase(f"saturation ({clients} clients)", None, duration)
    deadline = time.perf_counter() + duration
    lock = threading.Lock()

    def client():
        while time.perf_counter() < deadline:
            with lock:
                counter[0] += 1
                k = counter[0]
            phase.samples.append(shop.place(k))

    pool = eventlet.GreenPool(clients)
    for _ in range(clients):
        pool.spawn(client)
    pool.waitall()
    return phase


def products_throughput(url: str, clients: int = 20, duration: float = 5.0) -> dict:
    """GET /products with `clients` connections for `duration` s. With wrk installed
    (`apt install wrk`) it drives the load: a Python client tops out near 250 req/s on
    these cores, well below what the gateway answers, and would measure itself."""
    if shutil.which("wrk"):
        return _wrk(f"{url}/products", clients, duration)
    deadline = time.perf_counter() + duration
    latencies, errors = [], [0]

    def client():
        session = requests.Session()
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            answer = session.get(f"{url}/products", timeout=10)
            latencies.append(time.perf_counter() - t)
            if answer.status_code != 200:
                errors[0] += 1

    pool = eventlet.GreenPool(clients)
    for _ in range(clients):
        pool.spawn(client)
    pool.waitall()
    return {"clients": clients, "requests": len(latencies), "per_s": len(latencies) / duration,
            "p50_ms": 1000 * percentile(latencies, 50), "p99_ms": 1000 * percentile(latencies, 99),
            "errors": errors[0], "tool": "python"}


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk(url: str, clients: int, duration: float) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{max(1, round(duration))}s",
                          "--latency", url], capture_output=True, text=True, check=True).stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(match.group(1)) * _UNITS_MS[match.group(2)] if match else float("nan")

    requests_done = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    return {"clients": clients, "requests": int(requests_done.group(1)) if requests_done else 0,
            "per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": latency("50"), "p99_ms": latency("99"),
            "errors": (int(bad.group(1)) if bad else 0)
            + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
            "tool": "wrk"}
