"""Fixtures for the gateway's unit tests: a real app over a fake RPC edge (StubRpc).

No broker, no database: the app is built with create_app(config, rpc=StubRpc()).
"""

from __future__ import annotations

import time

import pytest

from common.config import load_config
from common.tokens import Principal, TokenSettings, issue_access_token
from gateway import create_app
from gateway.stream import EventHub
from tests.unit.gateway.support import StubRpc

MAX_BODY_BYTES = 2048


@pytest.fixture
def config():
    cfg = load_config()
    cfg.update(MAX_BODY_BYTES=MAX_BODY_BYTES, SERVICES=["user_svc"], READY_TIMEOUT_S=0.5)
    return cfg


@pytest.fixture
def rpc():
    return StubRpc()


@pytest.fixture
def broker():
    """The /ready broker probe; set `.error` to make it fail."""

    class Broker:
        error: BaseException | None = None

        def __call__(self):
            if self.error is not None:
                raise self.error

    return Broker()


@pytest.fixture
def hub():
    """The live stream's hub, without a broker feed: tests publish into it directly."""
    return EventHub()


@pytest.fixture
def app(config, rpc, broker, hub):
    return create_app(config, rpc=rpc, broker_check=broker, stream_hub=hub)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def settings(config):
    return TokenSettings.from_config(config)


@pytest.fixture
def make_token(settings):
    """`make_token(role="customer", kind="user", subject=..., now=...)` -> a signed token."""

    def make(role="customer", kind="user", subject=None, now=None, email="ann@example.com",
             token_settings=None):
        # Subjects in the shapes user_svc issues (common.tokens checks them).
        subject = subject or {"user": "11111111-1111-4111-8111-111111111111",
                              "client": "cl_0123456789abcdef"}[kind]
        principal = Principal(subject=subject, role=role, kind=kind,
                              email=email if kind == "user" else None)
        return issue_access_token(token_settings or settings, principal,
                                  int(time.time()) if now is None else now)

    return make
