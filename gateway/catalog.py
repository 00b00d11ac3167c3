"""A short-lived cache of catalog answers (GET /products, GET /products/{sku}).

The catalog is the busiest read and the same for everyone: without a cache every view
costs an RPC to inventory_svc and a query, which held one gateway near 100-250 req/s.
Each gateway process keeps the JSON bodies it served for `PRODUCT_CACHE_TTL_S`
(default 1 s; 0 turns the cache off), keyed by path and query string, and forgets them
all at once when the catalog may have changed:

- this process wrote to it (create, update, restock: the views call `invalidate`);
- stock was held or given back anywhere (`inventory.reserved`, `inventory.released`,
  delivered by the live stream's broker feed to `on_event`).

So `available` is exact a few milliseconds after a reservation commits, and a product
written through another gateway process is at most TTL seconds old. The cache never
decides anything: reservations are checked by inventory_svc under row locks, so a
stale `available` can never oversell.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from common import events

DEFAULT_TTL_S = 1.0
MAX_ENTRIES = 1024  # pages by cursor and limit are many keys; the oldest go first
# Events after which `available` may differ.
STOCK_EVENTS = frozenset({events.InventoryReserved.TYPE, events.InventoryReleased.TYPE})


class CatalogCache:
    """Serialized catalog answers by request key, each kept for `ttl_s` seconds."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, bytes]] = {}
        # Bumped by every invalidation: an answer read from inventory_svc before one
        # must not be kept after it (see put).
        self.generation = 0

    @classmethod
    def from_config(cls, config: dict) -> CatalogCache:
        return cls(ttl_s=float(config.get("PRODUCT_CACHE_TTL_S", DEFAULT_TTL_S)))

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def get(self, key: str) -> bytes | None:
        """The body kept for `key`, or None (never cached, expired or invalidated)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() >= entry[0]:
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: str, body: bytes, generation: int) -> None:
        """Keep `body`, read when `generation` was current, unless an invalidation
        came in between (it may predate the change that invalidation announced)."""
        if not self.enabled or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (self.clock() + self.ttl_s, body)

    def invalidate(self) -> None:
        """Forget everything (the catalog or its stock changed)."""
        self.generation += 1
        self._entries.clear()

    def on_event(self, event: events.Event) -> None:
        """Broker feed callback: stock moved somewhere, so every answer may be stale."""
        if event.TYPE in STOCK_EVENTS:
            self.invalidate()
