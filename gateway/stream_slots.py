"""How many live streams each user holds open in this gateway process.

The contract allows 5 per user (STREAM_MAX_PER_USER); the 6th is answered 429
`rate_limited`. One account once held 40, the only cap being the process's 1,500
shared by everyone. The slot is taken in the view, before the answer starts (so
concurrent opens cannot all pass a count that only grows later), and given back when
the server closes the response, whether or not its body ever started.

Counted per gateway process: with N processes behind a balancer a user may hold up to
N times the limit (a stream stays on the process it opened on).
"""

from __future__ import annotations

from collections import Counter

DEFAULT_MAX_PER_USER = 5


class StreamSlots:
    """Open streams per user id; `take` and `give_back` never yield, so under eventlet
    a check and its count are one step."""

    def __init__(self):
        self._open: Counter[str] = Counter()

    def take(self, user_id: str, most: int) -> bool:
        """Count one more stream of `user_id` if it holds fewer than `most`."""
        if self._open[user_id] >= most:
            return False
        self._open[user_id] += 1
        return True

    def give_back(self, user_id: str) -> None:
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]

    def held(self, user_id: str) -> int:
        return self._open[user_id]
