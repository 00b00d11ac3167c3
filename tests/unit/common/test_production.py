"""ENV=production refuses the shipped JWT secret and admin password, in-process and as
the real processes start (`python -m gateway.server`, `nameko run user_svc.service`)."""

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
    problems,
)
from gateway import create_app

STRONG = {"JWT_SECRET": "x" * 48, "ADMIN_PASSWORD": "long enough"}


def test_the_constants_are_config_yml_defaults(monkeypatch):
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    config = load_config()
    assert (config["JWT_SECRET"], config["ADMIN_PASSWORD"]) == (DEV_JWT_SECRET,
                                                                  DEV_ADMIN_PASSWORD)


@pytest.mark.parametrize("settings, expected", [
    ({"JWT_SECRET": DEV_JWT_SECRET, "ADMIN_PASSWORD": DEV_ADMIN_PASSWORD},
     ["JWT_SECRET is the development default", "ADMIN_PASSWORD is the development default"]),
    ({**STRONG, "JWT_SECRET": DEV_JWT_SECRET}, ["JWT_SECRET is the development default"]),
    ({**STRONG, "ADMIN_PASSWORD": DEV_ADMIN_PASSWORD},
     ["ADMIN_PASSWORD is the development default"]),
    ({**STRONG, "JWT_SECRET": "short"}, ["JWT_SECRET is shorter than 32 characters"]),
    ({**STRONG, "ADMIN_PASSWORD": ""}, ["ADMIN_PASSWORD is shorter than 8 characters"]),
    (STRONG, []),
])
def test_problems(settings, expected):
    assert problems(settings) == expected


def test_only_production_is_checked():
    defaults = {"JWT_SECRET": DEV_JWT_SECRET, "ADMIN_PASSWORD": DEV_ADMIN_PASSWORD}
    check({**defaults, "ENV": "development"}, "gateway")
    with pytest.raises(InsecureConfiguration) as refused:
        check({**defaults, "ENV": " Production "}, "gateway")
    assert str(refused.value).startswith("gateway: refusing to start with ENV=production")
    check({**STRONG, "ENV": "production"}, "gateway")


def test_create_app_refuses(base_config):
    with pytest.raises(SystemExit, match="JWT_SECRET is the development default"):
        create_app({**base_config, "ENV": "production", "JWT_SECRET": DEV_JWT_SECRET},
                   rpc=object())


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
    assert "refusing to start with ENV=production" in done.stderr
    assert "JWT_SECRET is the development default" in done.stderr
    assert "ADMIN_PASSWORD is the development default" in done.stderr
    assert "Traceback" not in done.stderr
    assert took < 20
