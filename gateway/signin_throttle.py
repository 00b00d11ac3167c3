"""Sign-in throttling (POST /auth/login, /auth/token) that no one can turn into a lockout.

Password and client-secret guessing is slowed by counting attempts, not refusing the
account: anyone could once lock an account out with five wrong passwords (and its
owner with it, the right password refused for 15 minutes), or with ten bogus sign-ups
for its email. Following OWASP's authentication guidance:

* per (account, client address), SIGN_IN_FAILURES_PER_CLIENT (`5/minute;20/hour`):
  growing delays for one guesser; the count is cleared by a successful sign-in from
  that address, so the owner's own typos cost nothing once they get in;
* per account from every address, SIGN_IN_FAILURES_PER_ACCOUNT (`100/15 minutes`): a
  wide ceiling that slows guessing spread over many addresses. An address that has
  signed in to the account before (in the last 30 days) is not held by it, so a botnet
  reaching it does not shut the owner out of their usual places; an IPv6 peer counts as
  its /64 (gateway.ratelimit.client_address);
* each attempt is counted before the password is checked (an atomic hit of the
  limiter's storage), so guesses sent at the same instant cannot all pass a count
  that grows only afterwards (eight parallel guesses all passed a limit of five);
* registration never counts here (it has its own per-email limit).

The account is the normalized email or the client id (gateway.ratelimit.account_key).
A refusal is a 429 `rate_limited` with `Retry-After`, before user_svc is asked.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable

from flask import Response
from flask_limiter import Limiter
from limits import RateLimitItem, parse

log = logging.getLogger(__name__)

# "This address signed in to this account lately": one remembered success.
KNOWN = parse("1/30 days")


class SignInThrottle:
    """The two counters of sign-in attempts, in the limiter's storage."""

    def __init__(self, limiter: Limiter, per_client: list[RateLimitItem],
                 per_account: list[RateLimitItem]):
        self.limiter = limiter
        self.per_client, self.per_account = per_client, per_account

    def admit(self, account: str, address: str) -> tuple[RateLimitItem, int] | None:
        """Count one attempt; None if it may go on, else (the limit, Retry-After s)."""
        strategy = self.limiter.limiter
        counters = [(item, ("signin-client", account, address)) for item in self.per_client]
        if strategy.test(KNOWN, "signin-known", account, address):  # not known: counted
            counters += [(item, ("signin-account", account)) for item in self.per_account]
        for item, keys in counters:
            if not strategy.hit(item, *keys):
                reset_at = strategy.get_window_stats(item, *keys).reset_time
                return item, max(1, math.ceil(reset_at - time.time()))
        return None

    def succeeded(self, account: str, address: str) -> None:
        """A right password or secret from `address`: its guesses are forgiven."""
        strategy = self.limiter.limiter
        for item in self.per_client:
            strategy.clear(item, "signin-client", account, address)
        strategy.clear(KNOWN, "signin-known", account, address)  # 30 days from now on
        strategy.hit(KNOWN, "signin-known", account, address)

    def forgive(self, account: str, address: str) -> None:
        """Clear the account's ceiling and this address's count (a password reset)."""
        strategy = self.limiter.limiter
        for item in self.per_account:
            strategy.clear(item, "signin-account", account)
        for item in self.per_client:
            strategy.clear(item, "signin-client", account, address)

    def wrap(self, view: Callable, account_of: Callable[[], str | None],
             address_of: Callable[[], str],
             refuse: Callable[[RateLimitItem, int], Response]) -> Callable:
        """`view` with its attempts counted first (a request naming no account is the
        view's to refuse: 400)."""

        @functools.wraps(view)
        def throttled(*args, **kwargs):
            account, address = account_of(), address_of()
            if account is None:
                return view(*args, **kwargs)
            refused = self.admit(account, address)
            if refused is not None:
                return refuse(*refused)
            answer = view(*args, **kwargs)  # a wrong password raises: still counted
            self.succeeded(account, address)
            return answer

        return throttled
