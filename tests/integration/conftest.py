import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from common import queues
from common.testing import fresh_database, truncate_all
from tests.integration.support import Base, Behaviour


@pytest.fixture(scope="session")
def common_db_url():
    """A database for the test services of common/ (their tables are test-only)."""
    return fresh_database("common", Base.metadata)


@pytest.fixture
def common_db(common_db_url):
    truncate_all(common_db_url)
    Behaviour.mode, Behaviour.calls = "ok", []
    engine = create_engine(common_db_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def rabbit_config(rabbit_config, base_config):
    """nameko's vhost of this test, prepared as `make migrate` prepares the platform's
    (policies and the unrouted-event queue: common.queues)."""
    queues.prepare({**base_config, "AMQP_URI": rabbit_config["AMQP_URI"]})
    return rabbit_config


@pytest.fixture
def config(rabbit_config, common_db_url, base_config):
    """A service config on this test's own vhost, with fast retries."""
    return {
        **base_config,
        "AMQP_URI": rabbit_config["AMQP_URI"],
        "DB_URIS": {"emitter_svc:Base": common_db_url, "consumer_svc:Base": common_db_url},
        "EVENT_MAX_ATTEMPTS": 3,
        "EVENT_RETRY_DELAYS_MS": [50, 100],
        "OUTBOX_POLL_INTERVAL_S": 0.2,
        "max_workers": 4,
    }
