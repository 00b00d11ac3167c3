"""Access tokens revoked before they expire: logout, refresh-token reuse, API clients.

Access tokens are checked locally (no RPC per request), so a revoked one would work
until its `exp` (up to 15 minutes). Each gateway process therefore keeps what
user_svc revoked lately and refuses the tokens it covers:

* a user's session (the token's `sid`, its refresh-token family), revoked by logout or
  by the reuse of a spent refresh token;
* an API client (the token's `sub`), revoked by an admin: all its tokens (a revocation
  is for good; a token issued in the instant of the revoke must not outlive it).

A green thread asks user_svc (`revocations(since)`) every REVOCATION_POLL_S (1 s), so
a revoked token is refused, and its live streams closed, within about a second of the
revocation on every gateway process; a new process first loads the last access-token
lifetime's worth. user_svc stamps a revocation with the database's clock when its
UPDATE runs, and each look starts LOOK_BACK_S (30 s) before the previous answer's
time, so a revocation whose transaction commits after a look began is seen by a later
one.
Entries are forgotten once no token they cover can still be valid.

While user_svc cannot be asked, the revocations already known stay in force and the
poller keeps trying (a token revoked meanwhile works until user_svc is back, or until
it expires).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import eventlet

from common.tokens import Principal

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 1.0
LOOK_BACK_S = 30.0


class Revocations:
    """What is revoked, by session and by subject, with when (epoch seconds)."""

    def __init__(self, keep_s: float):
        self.keep_s = keep_s  # the access-token lifetime: older revocations cover nothing
        self.sessions: dict[str, float] = {}
        self.subjects: dict[str, float] = {}
        self.as_of: float | None = None  # user_svc's time of the last answer

    def covers(self, principal: Principal) -> bool:
        """Whether `principal`'s token is revoked."""
        if principal.session is not None and principal.session in self.sessions:
            return True
        return principal.subject in self.subjects

    def since(self, now: float) -> float:
        """Where the next look starts."""
        if self.as_of is None:
            return now - self.keep_s
        return self.as_of - LOOK_BACK_S

    def learn(self, answer: dict, now: float) -> set[str]:
        """Take in an answer of user_svc's `revocations`; the sessions new to us."""
        new = set(answer["sessions"]) - set(self.sessions)
        self.sessions.update(answer["sessions"])
        self.subjects.update(answer["subjects"])
        self.as_of = answer["as_of"]
        horizon = now - self.keep_s
        for known in (self.sessions, self.subjects):
            for key in [key for key, at in known.items() if at < horizon]:
                del known[key]
        return new

    def poll_forever(self, ask: Callable[[float], dict], interval_s: float,
                     on_revoked: Callable[[set[str]], object] = lambda sessions: None,
                     clock: Callable[[], float] = time.time) -> None:
        """Ask `ask(since)` every `interval_s`, for ever (run it in a green thread)."""
        failing = False
        while True:
            try:
                new = self.learn(ask(self.since(clock())), clock())
                if new:
                    on_revoked(new)
                if failing:
                    log.info("revocations: user_svc answers again")
                failing = False
            except Exception as exc:  # user_svc away: keep what we know, try again
                if not failing:
                    log.warning("revocations: cannot ask user_svc: %s", exc)
                failing = True
            eventlet.sleep(interval_s)
