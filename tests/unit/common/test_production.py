"""No missing or public secret anywhere, and no development admin password where others
can reach the gateway: in-process and as the real processes start (`python -m
gateway.server`, `nameko run user_svc.service`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from common.config import ROOT, load_config
from common.production import (
    DEV_ADMIN_PASSWORD,
    DEV_JWT_SECRET,
    InsecureConfiguration,
    check,
    is_loopback,
    problems,
)
from gateway import create_app

STRONG = {"JWT_SECRET": "x" * 48, "ADMIN_PASSWORD": "long enough"}


def test_config_yml_has_no_jwt_secret_and_the_development_admin_password(monkeypatch):
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    config = load_config()
    assert (config["JWT_SECRET"], config["ADMIN_PASSWORD"]) == ("", DEV_ADMIN_PASSWORD)


@pytest.mark.parametrize("settings, exposed, expected", [
    ({**STRONG, "JWT_SECRET": ""}, False, ["JWT_SECRET is not set"]),
    # The secret config.yml once shipped signed valid admin tokens for any make run.
    ({**STRONG, "JWT_SECRET": DEV_JWT_SECRET}, False,
     ["JWT_SECRET is the published development value"]),
    ({**STRONG, "JWT_SECRET": "short"}, False, ["JWT_SECRET is shorter than 32 characters"]),
    ({**STRONG, "ADMIN_PASSWORD": DEV_ADMIN_PASSWORD}, False, []),  # on loopback: fine
    ({**STRONG, "ADMIN_PASSWORD": DEV_ADMIN_PASSWORD}, True,
     ["ADMIN_PASSWORD is the development default"]),
    ({**STRONG, "ADMIN_PASSWORD": ""}, True, ["ADMIN_PASSWORD is shorter than 8 characters"]),
    (STRONG, True, []),
])
def test_problems(settings, exposed, expected):
    assert problems(settings, exposed) == expected


def test_production_counts_as_exposed():
    loopback_ok = {**STRONG, "ADMIN_PASSWORD": DEV_ADMIN_PASSWORD}
    check({**loopback_ok, "ENV": "development"}, "gateway")
    with pytest.raises(InsecureConfiguration) as refused:
        check({**loopback_ok, "ENV": " Production "}, "gateway")
    assert str(refused.value).startswith("gateway: refusing to start: ADMIN_PASSWORD")
    check({**STRONG, "ENV": "production"}, "gateway")


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("127.0.0.2", True), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False),
    ("shop.example", False), ("", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_create_app_refuses(base_config):
    with pytest.raises(SystemExit, match="JWT_SECRET is the published development value"):
        create_app({**base_config, "JWT_SECRET": DEV_JWT_SECRET}, rpc=object())
    with pytest.raises(SystemExit, match="ADMIN_PASSWORD is the development default"):
        create_app({**base_config, "GATEWAY_HOST": "0.0.0.0",
                    "ADMIN_PASSWORD": DEV_ADMIN_PASSWORD}, rpc=object())


def _run(argv: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("JWT_SECRET", "ADMIN_PASSWORD")}
    env.update(ENV="production", EVENTLET_TESTS="1", GATEWAY_PORT="1")  # never listens
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return done, time.monotonic() - started


@pytest.mark.parametrize("argv", [
    [sys.executable, "-m", "gateway.server"],
    [os.path.join(os.path.dirname(sys.executable), "nameko"), "run", "--config", "config.yml",
     "user_svc.service"],
], ids=["gateway", "user_svc"])
def test_the_process_exits_at_once_with_the_reason(argv):
    done, took = _run(argv)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "refusing to start: JWT_SECRET is not set" in done.stderr
    assert ".run/jwt-secret" in done.stderr
    assert "ADMIN_PASSWORD is the development default" in done.stderr
    assert "Traceback" not in done.stderr
    assert took < 20
