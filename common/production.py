"""Refuse to start with secrets anyone can read, or none.

The development JWT secret this repository once shipped signed valid admin tokens for
every `make run` cluster (anyone could mint `role: admin`). So:

* everywhere, the gateway and user_svc refuse a JWT_SECRET that is missing, the
  published development value, or shorter than 32 characters. `make run` generates a
  random one per checkout on first start (.run/jwt-secret, never committed) unless
  JWT_SECRET is set; elsewhere it is set in the environment;
* with ENV=production, or a gateway bound to an address other machines can reach
  (GATEWAY_HOST not loopback), the development ADMIN_PASSWORD is refused too.

    gateway: refusing to start: JWT_SECRET is not set (`make run` keeps a random one
    per checkout in .run/jwt-secret; elsewhere set JWT_SECRET, 32+ characters)

InsecureConfiguration is a SystemExit: uncaught, the process prints that one line
(no traceback) and exits with status 1.
"""

from __future__ import annotations

import ipaddress
import logging

from nameko.extensions import DependencyProvider

log = logging.getLogger(__name__)

# The JWT secret config.yml once fell back to: public, so refused everywhere.
DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
# The admin password config.yml falls back to (tests/unit/common/test_production.py).
DEV_ADMIN_PASSWORD = "admin-change-me"
MIN_JWT_SECRET_CHARS = 32  # HS256 wants a key at least as long as its 256-bit output
MIN_ADMIN_PASSWORD_CHARS = 8  # what registration asks of every other account


class InsecureConfiguration(SystemExit):
    """Production settings that must not be used; str() is the message for the operator."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def is_production(config: dict) -> bool:
    return str(config.get("ENV", "")).strip().lower() == "production"


def is_loopback(host) -> bool:
    """Whether `host` (GATEWAY_HOST) is reachable from this machine only."""
    host = str(host or "").strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: assume others can reach it


def problems(config: dict, exposed: bool) -> list[str]:
    """What is unsafe about `config` (empty when fine); `exposed`: production, or
    reachable from other machines, where the development admin password is refused."""
    found = []
    secret = str(config.get("JWT_SECRET") or "")
    if not secret:
        found.append("JWT_SECRET is not set")
    elif secret == DEV_JWT_SECRET:
        found.append("JWT_SECRET is the published development value")
    elif len(secret) < MIN_JWT_SECRET_CHARS:
        found.append(f"JWT_SECRET is shorter than {MIN_JWT_SECRET_CHARS} characters")
    if exposed:
        password = str(config.get("ADMIN_PASSWORD") or "")
        if password == DEV_ADMIN_PASSWORD:
            found.append("ADMIN_PASSWORD is the development default")
        elif len(password) < MIN_ADMIN_PASSWORD_CHARS:
            found.append(
                f"ADMIN_PASSWORD is shorter than {MIN_ADMIN_PASSWORD_CHARS} characters")
    return found


def check(config: dict, component: str, exposed: bool = False) -> None:
    """InsecureConfiguration if `config` has a missing or public secret (see above)."""
    found = problems(config, exposed or is_production(config))
    if found:
        raise InsecureConfiguration(
            f"{component}: refusing to start: {'; '.join(found)} (`make run` keeps a "
            "random JWT_SECRET per checkout in .run/jwt-secret; elsewhere set JWT_SECRET, "
            f"32+ characters, and ADMIN_PASSWORD, {MIN_ADMIN_PASSWORD_CHARS}+, in the "
            "environment)")


class ProductionGuard(DependencyProvider):
    """Declare on a nameko service (`guard = ProductionGuard()`): the container does not
    start when check() refuses the config."""

    def setup(self):
        try:
            check(self.container.config, self.container.service_name)
        except InsecureConfiguration as exc:
            log.critical("%s", exc)  # the JSON log line; SystemExit prints the plain one
            raise
