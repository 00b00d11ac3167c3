"""user_svc in a real container: its event leaves through the outbox, correlated."""

import pytest
from nameko.events import event_handler as plain_nameko_handler
from nameko.standalone.rpc import ServiceRpcProxy

from common import events
from common.testing import migrated_database, truncate_all, wait_for
from user_svc.service import UserService

pytestmark = pytest.mark.integration

received: list = []


class Listener:
    """Another service that learns about new users (as notify_svc will)."""

    name = "listener_svc"

    @plain_nameko_handler("user_svc", "user.registered")
    def on_registered(self, payload):
        received.append(payload)


@pytest.fixture(scope="module")
def user_db_url():
    return migrated_database("user_svc")


@pytest.fixture
def config(rabbit_config, base_config, user_db_url):
    truncate_all(user_db_url)
    received.clear()
    return {**base_config, "AMQP_URI": rabbit_config["AMQP_URI"], "BCRYPT_ROUNDS": 4,
            "DB_URIS": {"user_svc:Base": user_db_url}}


def test_registering_publishes_user_registered_with_the_callers_correlation_id(
        container_factory, config):
    container_factory(Listener, config).start()
    container_factory(UserService, config).start()

    with ServiceRpcProxy("user_svc", config, timeout=10,
                         context_data={"correlation_id": "req-reg-1"}) as users:
        user = users.register(email="ann@example.com", password="correct horse")

    wait_for(lambda: received, message="user.registered")
    event = events.parse(received[0])
    assert isinstance(event, events.UserRegistered)
    assert (event.user_id, event.email) == (user["id"], "ann@example.com")
    assert event.correlation_id == "req-reg-1"


def test_the_admin_exists_once_the_service_has_started(container_factory, config):
    container_factory(UserService, config).start()
    with ServiceRpcProxy("user_svc", config, timeout=10) as users:
        pair = wait_for(lambda: users.login(email=config["ADMIN_EMAIL"],
                                            password=config["ADMIN_PASSWORD"]),
                        message="the bootstrapped admin")
    assert pair["token_type"] == "Bearer"
