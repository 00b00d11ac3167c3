"""Lose the RabbitMQ node that leads the busy queues under a steady flow of orders.

Every queue of the platform is a quorum queue replicated on three nodes, and every
process holds all three addresses. The node that leads the most queues (the one every
process connected to first) is killed with SIGKILL, the flow goes on while it is down,
then it comes back. Nothing is restarted by hand: every order must reach a final state,
the invariant checker must find nothing (no oversell, no double charge, no lost or
doubled event), and every process of the platform must still be the one started.
"""

from collections import Counter

import pytest

from common.queues import vhost_of
from common.testing import wait_for
from tests.faults.conftest import settle_and_check

pytestmark = pytest.mark.cluster


def wait_placed(flow, more, timeout=90):
    target = len(flow.placed) + more
    wait_for(lambda: len(flow.placed) >= target, timeout=timeout,
             message=f"{more} more orders placed")


def busiest_leader(rabbit_nodes, vhost, via):
    leaders = rabbit_nodes.leaders(vhost, via)
    assert leaders, "no quorum queue found"
    assert all(name.startswith("rpc.reply-") is False for name in leaders)
    return Counter(leaders.values()).most_common(1)[0][0]


@pytest.mark.timeout(600)  # three RabbitMQ nodes and the platform start in this test
def test_the_node_leading_the_queues_is_lost_and_comes_back(cluster, rabbit_nodes, flow,
                                                             checker):
    vhost = vhost_of(cluster.env["AMQP_URI"])
    survivor = rabbit_nodes.nodes[-1]
    pids = {name: process.popen.pid for name, process in cluster.processes.items()}
    flow.start()
    wait_placed(flow, 10)

    victim = busiest_leader(rabbit_nodes, vhost, survivor)
    rabbit_nodes.kill(victim)
    # The quorum queues elect new leaders on the two nodes left; the services reconnect
    # to them, and orders go on being placed and finished while the node is down.
    wait_for(lambda: victim not in rabbit_nodes.leaders(vhost, survivor).values(),
             timeout=60, message=f"every queue led by a node other than {victim}")
    wait_placed(flow, 15)
    cluster.wait_ready(timeout=60)

    rabbit_nodes.restart(victim)
    wait_for(lambda: len(rabbit_nodes.running_nodes(survivor)) == 3, timeout=60,
             message="the lost node back in the cluster")
    wait_placed(flow, 10)
    settle_and_check(checker, flow, f"RabbitMQ node {victim} killed and restarted")

    for name, process in cluster.processes.items():
        assert process.popen.poll() is None, f"{name} exited:\n{process.log_tail()}"
        assert process.popen.pid == pids[name], f"{name} was restarted"
