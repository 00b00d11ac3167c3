import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from common.inbox import InboxClaim
from common.testing import migrated_database, truncate_all
from payment_svc.models import Inbox
from payment_svc.provider import MockProvider
from payment_svc.service import PaymentService


@pytest.fixture(scope="session")
def payment_db_url():
    return migrated_database("payment_svc")


@pytest.fixture
def engine(payment_db_url):
    truncate_all(payment_db_url)
    engine = create_engine(payment_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def provider():
    """A real MockProvider, fresh per test: its ledger says what was charged."""
    return MockProvider(slow_s=0.05)


@pytest.fixture
def unit_config(base_config):
    return {**base_config, "PAYMENT_RETRY_DELAYS_MS": [1, 2, 3], "PAYMENT_SLOW_S": 0.05}


@pytest.fixture
def make_worker(unit_config, provider):
    """A PaymentService worker on `session`; other edges (the relay) mocked."""

    def make(session, provider=provider):
        return worker_factory(PaymentService, db=session, config=unit_config,
                              correlation_id="cid", provider=provider,
                              inbox=InboxClaim(Inbox, "unit"))

    return make


@pytest.fixture
def payments(make_worker, session):
    return make_worker(session)
