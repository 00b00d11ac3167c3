"""The client's address behind reverse proxies you trust (TRUSTED_PROXIES).

Behind a load balancer every request comes from the balancer's address: the rate
limits, the sign-in throttle, the metrics allow-list and the logs would all see one
client. `TrustedProxies` wraps the WSGI app and, when the peer is in one of the
TRUSTED_PROXIES networks, takes the client from `X-Forwarded-For`: read from the right
(the hop nearest to us), skipping the addresses that are trusted proxies too, the first
other address is the client (nginx's `real_ip_recursive on`), unless it is a
loopback, private or link-local address (NOT_A_CLIENT). A peer outside those networks
is the client itself, whatever it claims in the header: a client that reaches the
gateway directly cannot pick its own address. No networks (the default): the peer is
always the client. The metrics allow-list looks at the peer, never at the header.

    app.wsgi_app = TrustedProxies(app.wsgi_app, parse_networks("10.0.0.0/8,::1/128"))

The peer's own address stays in the environ as `gateway.proxy_addr`.
"""

from __future__ import annotations

import ipaddress

PEER_KEY = "gateway.proxy_addr"


def parse_networks(value) -> list:
    """CIDRs from a comma-separated string or a list (config.yml accepts both)."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [ipaddress.ip_network(str(item).strip(), strict=False)
            for item in items if str(item).strip()]


# Addresses a header may not name as the client: whoever wrote them is inside (or
# pretends to be), and loopback would pass the metrics allow-list of a proxied setup.
NOT_A_CLIENT = parse_networks("0.0.0.0/8,10.0.0.0/8,100.64.0.0/10,127.0.0.0/8,"
                              "169.254.0.0/16,172.16.0.0/12,192.168.0.0/16,"
                              "::/128,::1/128,fc00::/7,fe80::/10")


def is_in(address: str, networks: list) -> bool:
    try:
        parsed = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in networks)


def client_of(peer: str, forwarded_for: str | None, networks: list) -> str:
    """The client's address for a request from `peer` carrying `forwarded_for`.

    A loopback, private-use, shared (CGNAT), link-local or unspecified address in the
    header is not believed (which a client may have written itself, and which
    would pass the metrics allow-list or dodge a limit) makes the peer the client, and
    so does a header of trusted proxies only.
    """
    if not networks or not forwarded_for or not is_in(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if is_in(hop, networks):
            continue
        try:
            client = ipaddress.ip_address(hop.strip("[]"))
        except ValueError:
            return peer  # a malformed hop: believe nothing further out
        if client.version == 6 and client.ipv4_mapped is not None:
            client = client.ipv4_mapped
        if client.is_multicast or any(client in net for net in NOT_A_CLIENT):
            return peer
        return str(client)
    return peer


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR becomes the client behind trusted proxies."""

    def __init__(self, app, networks: list):
        self.app, self.networks = app, networks

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        client = client_of(peer, environ.get("HTTP_X_FORWARDED_FOR"), self.networks)
        if client != peer:
            environ = {**environ, "REMOTE_ADDR": client, PEER_KEY: peer}
        return self.app(environ, start_response)
