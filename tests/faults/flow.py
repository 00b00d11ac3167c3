"""A steady flow of orders through the gateway, behaving as a careful client does.

Each order is placed with its own Idempotency-Key and re-sent with the same key while
the platform answers 5xx or not at all, so a fault can delay an order but neither
lose nor double it. Some orders use declining or flaky cards; some are cancelled by
their customer right away; one product is scarce, so some orders run out of stock.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass, field

import eventlet
import requests

TOKENS = ["tok_ok"] * 7 + ["tok_declined", "tok_flaky", "tok_insufficient_funds"]


@dataclass
class Flow:
    url: str
    shoppers: list[dict]
    skus: list[str]
    interval: float = 0.15
    placed: list[str] = field(default_factory=list)
    retries: int = 0
    cancels: int = 0
    _running: bool = False
    _threads: list = field(default_factory=list)

    def start(self) -> Flow:
        self._running = True
        self._threads = [eventlet.spawn(self._run, n) for n in range(2)]
        return self

    def stop(self) -> None:
        """Stop placing new orders; those being placed are finished first."""
        self._running = False
        for thread in self._threads:
            thread.wait()

    def _run(self, lane: int) -> None:
        rng = random.Random(lane)
        for n in itertools.count():
            if not self._running:
                return
            headers = self.shoppers[(lane + n) % len(self.shoppers)]
            order_id = self._place(headers, rng)
            if order_id and rng.random() < 0.1:
                self._send("post", f"/orders/{order_id}/cancel", headers, {}, ok=(202, 409))
                self.cancels += 1
            eventlet.sleep(self.interval)

    def _place(self, headers: dict, rng: random.Random) -> str | None:
        body = {"items": [{"sku": rng.choice(self.skus), "quantity": rng.randint(1, 2)}],
                "payment": {"token": rng.choice(TOKENS)}}
        key = {"Idempotency-Key": str(uuid.uuid4())}
        answer = self._send("post", "/orders", {**headers, **key}, body, ok=(201,))
        if answer is None:
            return None
        self.placed.append(answer["id"])
        return answer["id"]

    def _send(self, method: str, path: str, headers: dict, body: dict, ok: tuple,
              attempts: int = 60) -> dict | None:
        """Send until a final answer: retry 5xx and connection errors with the same body."""
        for _ in range(attempts):
            try:
                answer = requests.request(method, self.url + path, headers=headers, json=body,
                                          timeout=10)
            except requests.RequestException:
                answer = None
            if answer is not None and answer.status_code in ok:
                return answer.json()
            if answer is not None and answer.status_code < 500:
                raise AssertionError(f"{method} {path}: {answer.status_code} {answer.text}")
            self.retries += 1
            eventlet.sleep(0.5)
        raise AssertionError(f"{method} {path}: no final answer after {attempts} attempts")
