"""TRUSTED_PROXIES: the client behind a load balancer, and no one else's word for it."""

import pytest

from gateway.proxies import client_of, parse_networks
from tests.unit.gateway.test_ratelimit import LOGIN, assert_429, limited

BALANCERS = parse_networks("10.0.0.0/8, fd00::/8")


@pytest.mark.parametrize(("peer", "forwarded", "client"), [
    ("10.0.0.5", "203.0.113.7", "203.0.113.7"),  # one trusted hop
    ("10.0.0.5", "198.51.100.1, 203.0.113.7, 10.1.2.3", "203.0.113.7"),  # two trusted hops
    ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not a proxy: the header is ignored
    ("10.0.0.5", None, "10.0.0.5"),  # a proxy that forwarded nothing
    ("10.0.0.5", "not-an-address, 203.0.113.7", "203.0.113.7"),
    ("10.0.0.5", "203.0.113.7, garbage", "10.0.0.5"),  # malformed nearest hop: believe none
    ("10.0.0.5", "127.0.0.1", "10.0.0.5"),  # a loopback claim: the peer, never loopback
    ("10.0.0.5", "127.0.0.1, 10.1.2.3", "10.0.0.5"),  # a SNAT hop before it changes nothing
    ("10.0.0.5", "192.168.1.9", "10.0.0.5"),  # private, not trusted: not believed either
    ("fd00::1", "2001:db8::5", "2001:db8::5"),
    ("::ffff:10.0.0.5", "203.0.113.7", "203.0.113.7"),  # IPv4-mapped peer
    ("10.0.0.5", "10.0.0.6, 10.0.0.7", "10.0.0.5"),  # every hop trusted: the peer
])
def test_the_client_is_the_nearest_untrusted_hop(peer, forwarded, client):
    assert client_of(peer, forwarded, BALANCERS) == client


def test_no_trusted_proxies_means_the_peer_is_the_client():
    assert client_of("10.0.0.5", "203.0.113.7", []) == "10.0.0.5"


def test_clients_behind_one_balancer_get_a_limit_each_and_cannot_spoof_from_outside(
        config, rpc):
    client = limited(config, rpc, RATE_LIMIT_AUTH="2/minute", TRUSTED_PROXIES="10.0.0.0/8")

    def login(forwarded, peer="10.0.0.5"):
        return client.post("/auth/login", json=LOGIN, headers={"X-Forwarded-For": forwarded},
                           environ_base={"REMOTE_ADDR": peer})

    for _ in range(2):
        assert login("203.0.113.7").status_code != 429
    assert_429(login("203.0.113.7"))
    assert login("203.0.113.8").status_code != 429  # another shopper, same balancer
    # Straight to the gateway, claiming to be someone else: counted as itself.
    for _ in range(2):
        assert login("203.0.113.99", peer="198.51.100.1").status_code != 429
    assert_429(login("203.0.113.100", peer="198.51.100.1"))


def test_metrics_answer_the_peer_not_a_loopback_claim_in_the_header(config, rpc):
    client = limited(config, rpc, TRUSTED_PROXIES="10.0.0.0/8")
    claimed = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"},
                         environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert claimed.status_code == 403
    local = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert local.status_code == 200
