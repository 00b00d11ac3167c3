import pytest
from nameko.testing.services import worker_factory

from common.inbox import InboxClaim
from common.testing import clean_session, migrated_database
from inventory_svc.models import Inbox
from inventory_svc.service import InventoryService


@pytest.fixture(scope="session")
def inventory_db_url():
    return migrated_database("inventory_svc")


@pytest.fixture
def session(inventory_db_url):
    with clean_session(inventory_db_url) as session:
        yield session


@pytest.fixture
def inventory(session, base_config):
    """InventoryService on a real session of this tier's database; other edges mocked."""
    config = {**base_config, "RESERVATION_TTL_S": 60}
    return worker_factory(InventoryService, db=session, config=config, correlation_id="cid",
                          inbox=InboxClaim(Inbox, "unit"))


@pytest.fixture
def catalog(inventory):
    """Two products: TEA (10 units) and MUG (3 units)."""
    inventory.create_product(sku="TEA", name="Tea", price_cents=450, stock=10)
    inventory.create_product(sku="MUG", name="Mug", price_cents=1200, stock=3)
    return inventory
