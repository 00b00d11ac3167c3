"""Refuse to start in production with the secrets this repository ships.

config.yml's defaults (a JWT secret and an admin password anyone can read on GitHub)
keep `make run` working with no setup. With ENV=production they would let anyone
forge an admin token or log in as the admin, so the gateway (gateway.create_app) and
user_svc (ProductionGuard) stop at start-up instead, naming what to set:

    gateway: refusing to start with ENV=production: JWT_SECRET is the development
    default; ADMIN_PASSWORD is the development default (set them in the environment)

InsecureConfiguration is a SystemExit: uncaught, the process prints that one line
(no traceback) and exits with status 1.
"""

from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider

log = logging.getLogger(__name__)

# The values config.yml falls back to; tests/unit/common/test_production.py keeps them in step.
DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
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


def problems(config: dict) -> list[str]:
    """What is unsafe about `config` for production (empty when fine)."""
    found = []
    secret = str(config.get("JWT_SECRET") or "")
    if secret == DEV_JWT_SECRET:
        found.append("JWT_SECRET is the development default")
    elif len(secret) < MIN_JWT_SECRET_CHARS:
        found.append(f"JWT_SECRET is shorter than {MIN_JWT_SECRET_CHARS} characters")
    password = str(config.get("ADMIN_PASSWORD") or "")
    if password == DEV_ADMIN_PASSWORD:
        found.append("ADMIN_PASSWORD is the development default")
    elif len(password) < MIN_ADMIN_PASSWORD_CHARS:
        found.append(f"ADMIN_PASSWORD is shorter than {MIN_ADMIN_PASSWORD_CHARS} characters")
    return found


def check(config: dict, component: str) -> None:
    """InsecureConfiguration if ENV=production and `config` keeps a development secret."""
    if not is_production(config):
        return
    found = problems(config)
    if found:
        raise InsecureConfiguration(
            f"{component}: refusing to start with ENV=production: {'; '.join(found)} "
            "(set them in the environment)")


class ProductionGuard(DependencyProvider):
    """Declare on a nameko service (`guard = ProductionGuard()`): the container does not
    start when check() refuses the config."""

    def setup(self):
        try:
            check(self.container.config, self.container.service_name)
        except InsecureConfiguration as exc:
            log.critical("%s", exc)  # the JSON log line; SystemExit prints the plain one
            raise
