import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from common.testing import migrated_database, truncate_all
from user_svc.service import UserService


@pytest.fixture(scope="session")
def user_db_url():
    return migrated_database("user_svc")


@pytest.fixture
def session(user_db_url):
    truncate_all(user_db_url)
    engine = create_engine(user_db_url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture
def config(base_config):
    return {**base_config, "BCRYPT_ROUNDS": 4}


@pytest.fixture
def users(session, config):
    """UserService with a real session on this tier's database; other edges are mocks."""
    return worker_factory(UserService, db=session, config=config, correlation_id="cid-1")
