"""A RabbitMQ cluster of private nodes on this machine, for the cluster tier.

Each node is a `rabbitmq-server` of the machine's own installation, started with a node
name, ports, data and log directories of its own (under `base_dir`), listening on
loopback only; the nodes share an Erlang cookie of their own and join the first one.
The machine's RabbitMQ on 5672 is not touched.

    nodes = RabbitCluster(tmp_path, size=3).start()
    nodes.amqp_uri("shop")          # "amqp://guest:guest@127.0.0.1:<p1>/shop;...;...<p3>/shop"
    nodes.kill(nodes.nodes[0].name); nodes.restart(nodes.nodes[0].name)
    nodes.stop()
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from common.testing import free_port, wait_for

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
SERVER, CTL = RABBIT_BIN / "rabbitmq-server", RABBIT_BIN / "rabbitmqctl"
BOOT_TIMEOUT_S = 90


@dataclass
class Node:
    name: str
    amqp_port: int
    management_port: int
    dist_port: int
    home: Path
    popen: subprocess.Popen | None = None

    @property
    def management_uri(self) -> str:
        return f"http://guest:guest@127.0.0.1:{self.management_port}/"


class RabbitCluster:
    """`size` private RabbitMQ nodes joined into one cluster (module doc)."""

    def __init__(self, base_dir: Path, size: int = 3, prefix: str | None = None):
        self.base_dir = Path(base_dir)
        self.cookie = secrets.token_hex(16)
        # Names of this run's own: a node left over by a run that was killed (still up,
        # or still registered with epmd) would refuse a second node of its name.
        prefix = prefix or f"rc-{secrets.token_hex(3)}"
        taken: set[int] = set()

        def port() -> int:  # free now, and not given to another node of this cluster
            while (found := free_port()) in taken:
                pass
            taken.add(found)
            return found

        self.nodes = [Node(f"{prefix}-{n}@localhost", port(), port(), port(),
                           self.base_dir / f"node-{n}") for n in range(1, size + 1)]

    def start(self) -> RabbitCluster:
        for node in self.nodes:
            self._prepare(node)
            self._launch(node)
        for node in self.nodes:
            self._wait_booted(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        wait_for(lambda: len(self.running_nodes(first)) == len(self.nodes), timeout=60,
                 message="every node in the cluster")
        return self

    def amqp_uri(self, vhost: str = "") -> str:
        """Every node's address, `;`-separated, as AMQP_URI takes them."""
        return ";".join(f"amqp://guest:guest@127.0.0.1:{node.amqp_port}/{vhost}"
                        for node in self.nodes)

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def running_nodes(self, via: Node) -> list[str]:
        answer = requests.get(f"http://127.0.0.1:{via.management_port}/api/nodes",
                              auth=("guest", "guest"), timeout=10)
        answer.raise_for_status()
        return [n["name"] for n in answer.json() if n.get("running")]

    def leaders(self, vhost: str, via: Node) -> dict[str, str]:
        """Quorum queue name -> the node that leads it."""
        answer = requests.get(
            f"http://127.0.0.1:{via.management_port}/api/queues/{vhost}",
            auth=("guest", "guest"), timeout=10)
        answer.raise_for_status()
        return {q["name"]: q["leader"] for q in answer.json() if q.get("leader")}

    def kill(self, name: str) -> None:
        """SIGKILL the node's Erlang VM: no goodbye to clients or to the other nodes."""
        node = self.node(name)
        os.killpg(node.popen.pid, signal.SIGKILL)
        node.popen.wait(timeout=30)

    def restart(self, name: str) -> None:
        node = self.node(name)
        self._launch(node)
        self._wait_booted(node)

    def stop(self) -> None:
        for node in self.nodes:
            if node.popen is not None and node.popen.poll() is None:
                try:
                    os.killpg(node.popen.pid, signal.SIGKILL)
                    node.popen.wait(timeout=30)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass

    def ctl(self, node: Node, *args: str) -> str:
        done = subprocess.run([str(CTL), "-n", node.name, *args], env=self._env(node),
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {node.name}: "
                               f"{done.stdout}{done.stderr}")
        return done.stdout

    def _prepare(self, node: Node) -> None:
        node.home.mkdir(parents=True, exist_ok=True)
        cookie = node.home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        (node.home / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{node.amqp_port}\n"
            f"management.tcp.ip = 127.0.0.1\n"
            f"management.tcp.port = {node.management_port}\n"
            # Stats every second, not 5: the test reads queue leaders from them.
            "collect_statistics_interval = 1000\n")

    def _env(self, node: Node) -> dict:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(node.home),
                "LANG": "C.UTF-8", "RABBITMQ_NODENAME": node.name,
                "RABBITMQ_DIST_PORT": str(node.dist_port),
                "RABBITMQ_CONFIG_FILE": str(node.home / "rabbitmq.conf"),
                "RABBITMQ_MNESIA_BASE": str(node.home / "mnesia"),
                "RABBITMQ_LOG_BASE": str(node.home / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(node.home / "enabled_plugins"),
                # Not the machine's rabbitmq-env.conf, which names its own node.
                "RABBITMQ_CONF_ENV_FILE": "/dev/null",
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                "ERL_CRASH_DUMP": str(node.home / "erl_crash.dump"),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                    "-kernel inet_dist_use_interface {127,0,0,1}"}

    def _launch(self, node: Node) -> None:
        (node.home / "enabled_plugins").write_text("[rabbitmq_management].\n")
        log = open(node.home / "server.out", "ab")  # noqa: SIM115 (kept by the process)
        # In its own directory: a node that fails writes erl_crash.dump where it runs.
        node.popen = subprocess.Popen([str(SERVER)], env=self._env(node), stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True,
                                      cwd=node.home)

    def _wait_booted(self, node: Node) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if node.popen.poll() is not None:
                raise RuntimeError(f"{node.name} exited: see {node.home / 'server.out'}")
            done = subprocess.run([str(CTL), "-n", node.name, "await_startup", "--timeout",
                                   "5"], env=self._env(node), capture_output=True,
                                  timeout=30)
            if done.returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError(f"{node.name} did not boot in {BOOT_TIMEOUT_S}s")
