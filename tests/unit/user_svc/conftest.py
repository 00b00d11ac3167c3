import pytest
from nameko.testing.services import worker_factory

from common.testing import clean_session, migrated_database
from user_svc.service import UserService


@pytest.fixture(scope="session")
def user_db_url():
    return migrated_database("user_svc")


@pytest.fixture
def session(user_db_url):
    with clean_session(user_db_url) as session:
        yield session


@pytest.fixture
def config(base_config):
    return {**base_config, "BCRYPT_ROUNDS": 4}


@pytest.fixture
def users(session, config):
    """UserService with a real session on this tier's database; other edges are mocks."""
    return worker_factory(UserService, db=session, config=config, correlation_id="cid-1")
