"""notify_svc's SMTP client against real SMTP servers on loopback: tools.mailsink, and
the same sink scripted to refuse, defer, hang up or go mute (tests/integration/scripted_smtp.py).
The sinks' stats files tell how many connections and messages they saw."""

import json
import os
import smtplib
import sys

import eventlet
import pytest
from nameko.testing.services import dummy

from common.testing import Process, free_port, wait_for
from notify_svc.mailer import Mailer, Outgoing, PermanentMailError, build_message
from notify_svc.smtp import SmtpClient

pytestmark = pytest.mark.integration

FROM = "Order Platform <orders@example.com>"


class Sink:
    """A sink process on a free port: its port, .eml directory, stats and log."""

    def __init__(self, module: str, tmp_path):
        self.port, self.maildir = free_port(), tmp_path / "mail"
        self.stats_path = tmp_path / "stats.json"
        self.process = Process(module.rsplit(".", 1)[-1], [
            sys.executable, "-m", module, "--port", str(self.port), "--dir", str(self.maildir),
            "--stats-file", str(self.stats_path)], dict(os.environ), str(tmp_path))

    def stats(self) -> dict:
        return json.loads(self.stats_path.read_text())

    def saw(self, connections: int, messages: int) -> bool:
        return self.stats() == {"connections": connections, "messages": messages}

    def wait_saw(self, connections: int, messages: int) -> None:
        wait_for(lambda: self.saw(connections, messages),
                 message=f"{connections} connections, {messages} messages at the sink")


def running(module, tmp_path):
    sink = Sink(module, tmp_path)
    sink.process.start()
    try:
        wait_for(sink.stats_path.exists, timeout=20, message="the SMTP sink")
        yield sink
    finally:
        sink.process.stop()


@pytest.fixture
def sink(tmp_path):
    yield from running("tools.mailsink", tmp_path)


@pytest.fixture
def scripted(tmp_path):
    yield from running("tests.integration.scripted_smtp", tmp_path)


def mail(to="ann@example.com", n=1):
    return build_message(Outgoing(f"n-{n}", 1, "welcome", to, f"Hello {n}", "Hello.\n",
                                  "<p>Hello.</p>\n"), FROM)


def client(port, **options):
    return SmtpClient("127.0.0.1", port, **{"timeout": 2, **options})


def test_many_messages_go_over_one_connection(sink):
    smtp = client(sink.port)
    for n in range(20):
        smtp.send(mail(n=n))
    sink.wait_saw(connections=1, messages=20)
    assert len(list(sink.maildir.glob("*.eml"))) == 20
    wait_for(lambda: "[mail] to ann@example.com: Hello 19 (" in sink.process.log_tail(),
             message="the sink's line for the last mail")
    smtp.close()


def test_concurrent_green_threads_share_at_most_pool_size_connections(sink):
    smtp = client(sink.port, pool_size=2)
    pool = eventlet.GreenPool(10)
    for n in range(40):
        pool.spawn(smtp.send, mail(n=n))
    pool.waitall()
    wait_for(lambda: sink.stats()["messages"] == 40, message="40 messages")
    assert sink.stats()["connections"] <= 2 and smtp.connections_opened <= 2
    smtp.close()


def test_an_idle_connection_is_closed_and_the_next_send_opens_one(sink):
    smtp = client(sink.port, idle_s=0.2)
    smtp.send(mail(n=1))
    wait_for(lambda: smtp.close_idle() == 1, message="the idle close")
    smtp.send(mail(n=2))
    sink.wait_saw(connections=2, messages=2)


def test_a_connection_the_server_closed_is_reopened_and_the_mail_sent_once(scripted):
    smtp = client(scripted.port)
    smtp.send(mail("hangup@example.com", n=1))     # the server hangs up after this one
    scripted.wait_saw(connections=1, messages=1)
    smtp.send(mail(n=2))                          # finds the kept connection dead
    scripted.wait_saw(connections=2, messages=2)
    assert smtp.connections_opened == 2


def test_a_mail_whose_answer_never_came_is_not_sent_again_nor_called_sent(scripted):
    smtp = client(scripted.port)
    smtp.send(mail(n=1))
    with pytest.raises(smtplib.SMTPServerDisconnected) as raised:
        smtp.send(mail("mute@example.com", n=2))  # data sent, no answer: outcome unknown
    assert not isinstance(raised.value, PermanentMailError)
    scripted.wait_saw(connections=1, messages=1)  # no transparent resend
    smtp.send(mail(n=3))
    scripted.wait_saw(connections=2, messages=2)


def test_a_5xx_is_permanent_and_the_connection_stays_usable(scripted):
    smtp = client(scripted.port)
    with pytest.raises(PermanentMailError, match="550"):
        smtp.send(mail("refused@example.com"))
    smtp.send(mail(n=2))
    scripted.wait_saw(connections=1, messages=1)


def test_a_4xx_is_retryable_and_the_connection_is_reset_and_reused(scripted):
    smtp = client(scripted.port)
    smtp.send(mail(n=1))
    with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
        smtp.send(mail("busy@example.com", n=2))
    assert not isinstance(raised.value, PermanentMailError)
    smtp.send(mail(n=3))                          # a stale transaction would refuse this
    scripted.wait_saw(connections=1, messages=2)


def test_a_send_cut_short_by_the_deadline_leaves_no_connection_half_used(scripted):
    smtp = client(scripted.port, timeout=10)
    with pytest.raises(eventlet.Timeout), eventlet.Timeout(0.5):
        smtp.send(mail("slow@example.com", n=1))
    smtp.send(mail(n=2))                          # on a new connection, not the busy one
    wait_for(lambda: scripted.stats()["connections"] == 2, message="a second connection")
    assert smtp.connections_opened == 2


def test_a_server_refusing_service_at_the_greeting_is_a_permanent_error():
    with eventlet.listen(("127.0.0.1", 0)) as server:
        def refuse():
            client_socket, _ = server.accept()
            client_socket.sendall(b"554 5.3.2 no service for you\r\n")
            client_socket.close()
        refuser = eventlet.spawn(refuse)
        with pytest.raises(PermanentMailError, match="554"):
            client(server.getsockname()[1]).send(mail())
        refuser.wait()


class Mailing:
    name = "mailing"
    mailer = Mailer()

    @dummy
    def noop(self):
        pass


def test_the_dependency_keeps_its_connection_until_the_service_stops(container_factory, sink,
                                                                     base_config):
    container = container_factory(Mailing, {**base_config, "SMTP_HOST": "127.0.0.1",
                                            "SMTP_PORT": sink.port, "SMTP_IDLE_S": 60})
    container.start()
    (provider,) = [d for d in container.dependencies if isinstance(d, Mailer)]
    for n in range(3):
        provider.client.send(mail(n=n))
    (kept,) = provider.client._idle
    container.stop()
    assert kept.smtp.sock is None and provider.client._idle == []
    sink.wait_saw(connections=1, messages=3)
