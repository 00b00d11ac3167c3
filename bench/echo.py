"""The baseline service of the benchmarks: nameko with nothing of ours on top.

`ping` is a bare RPC round trip; `on_ping` answers a plain nameko event with another
event carrying the time it arrived, so the bench measures one event hop.
"""

import time

from nameko.events import EventDispatcher, event_handler
from nameko.rpc import rpc


class Echo:
    name = "bench_echo"
    dispatch = EventDispatcher()

    @rpc
    def ping(self, value=None):
        return value

    @event_handler("bench_driver", "ping.sent")
    def on_ping(self, payload):
        self.dispatch("pong.sent", {"id": payload["id"], "sent": payload["sent"],
                                    "arrived": time.time()})
