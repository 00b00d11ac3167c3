"""The cluster tier: the platform on a three-node RabbitMQ cluster, with quorum queues
and a failover list of broker addresses, while a node is lost and comes back.

The e2e tier's cluster of processes (tests/e2e/conftest.py) and the fault tier's flow
and checker (tests/faults/conftest.py) run here against private RabbitMQ nodes
(tests/cluster/rabbit.py) instead of the machine's RabbitMQ. `make test` runs this tier
alone, after the others: it starts three Erlang VMs.
"""

import pytest

from common.testing import temporary_vhost
from tests.cluster.rabbit import RabbitCluster
from tests.e2e import conftest as e2e
from tests.faults import conftest as faults

pytestmark = pytest.mark.cluster

# Shared fixtures (pytest finds them by these names).
cluster, admin, customer = e2e.cluster, e2e.admin, e2e.customer
shop, flow, checker = faults.shop, faults.flow, faults.checker
cluster_env = faults.cluster_env  # fast shipping, retries that outlast a node's loss


@pytest.fixture(scope="session")
def rabbit_nodes(tmp_path_factory):
    nodes = RabbitCluster(tmp_path_factory.mktemp("rabbit"), size=3)
    try:
        yield nodes.start()
    finally:
        nodes.stop()


@pytest.fixture(scope="session")
def broker(rabbit_nodes):
    """A vhost on the three nodes; every service gets all three addresses. The
    management API is asked on the last node, which the test leaves running."""
    management = rabbit_nodes.nodes[-1].management_uri
    with temporary_vhost(management, rabbit_nodes.amqp_uri()) as amqp:
        yield {"AMQP_URI": amqp, "RABBIT_MANAGEMENT_URI": management,
               "AMQP_QUEUE_TYPE": "quorum"}
