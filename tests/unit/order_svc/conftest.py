import pytest
from nameko.testing.services import worker_factory

from common.breakers import Breakers
from common.inbox import InboxClaim
from common.testing import clean_session, migrated_database
from order_svc.models import Inbox
from order_svc.service import OrderService


class Catalog:
    """Stands in for inventory_svc's RPC in unit tests (the real one runs in e2e)."""

    service_name = "inventory_svc"

    def __init__(self):
        self.products = {
            "TEA": {"sku": "TEA", "name": "Tea", "price_cents": 450, "currency": "USD"},
            "MUG": {"sku": "MUG", "name": "Mug", "price_cents": 1200, "currency": "USD"},
        }
        self.calls = 0

    def get_products(self, skus):
        self.calls += 1
        return {"items": [self.products[s] for s in skus if s in self.products],
                "missing": [s for s in skus if s not in self.products]}


@pytest.fixture(scope="session")
def order_db_url():
    return migrated_database("order_svc")


@pytest.fixture
def session(order_db_url):
    with clean_session(order_db_url) as session:
        yield session


@pytest.fixture
def catalog():
    return Catalog()


@pytest.fixture
def orders(session, base_config, catalog):
    return worker_factory(OrderService, db=session, inventory=catalog,
                          config={**base_config, "ORDER_DEADLINE_S": 60},
                          correlation_id="req-1", inbox=InboxClaim(Inbox, "unit"),
                          breakers=Breakers(failures=2, reset_s=60,
                                            services=["inventory_svc", "delivery_svc"]))
