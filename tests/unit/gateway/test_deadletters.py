"""Dead-letter admin routes, with a stand-in for the services' RPC edge."""

import pytest

from common.errors import ServiceUnavailable


class FakeDeadLetters:
    """Each service's dead-letter RPC methods, over one dict of letters."""

    def __init__(self, rpc, services):
        self.letters = {"order_svc": [{"event_type": "payment.succeeded", "event_id": "e1",
                                       "error": "RuntimeError: boom", "attempts": 5,
                                       "queue": "q", "failed_at": None}]}
        self.calls = []
        for service in services:
            rpc.answers[(service, "list_dead_letters")] = self._lister(service)
            rpc.answers[(service, "replay_dead_letters")] = self._taker("replay", service)
            rpc.answers[(service, "purge_dead_letters")] = self._taker("purge", service)

    def _lister(self, service):
        def inspect(limit=100):
            self.calls.append(("inspect", service))
            found = self.letters.get(service, [])
            return {"count": len(found), "messages": found[:limit]}
        return inspect

    def _taker(self, what, service):
        def take(event_id=None):
            self.calls.append((what, service, event_id) if event_id else (what, service))
            kept = self.letters.get(service, [])
            taken = [m for m in kept if event_id in (None, m["event_id"])]
            self.letters[service] = [m for m in kept if m not in taken]
            return len(taken)
        return take


@pytest.fixture
def config(config):
    return {**config, "SERVICES": ["user_svc", "order_svc"]}


@pytest.fixture
def admin_headers(make_token):
    return {"Authorization": f"Bearer {make_token(role='admin')}"}


@pytest.fixture
def customer_headers(make_token):
    return {"Authorization": f"Bearer {make_token()}"}


@pytest.fixture
def letters(rpc, config):
    return FakeDeadLetters(rpc, config["SERVICES"])


def test_admins_see_every_services_dead_letters(client, admin_headers, letters, app):
    answer = client.get("/admin/dead-letters", headers=admin_headers)
    assert answer.status_code == 200
    body = answer.get_json()
    assert set(body["services"]) == set(app.extensions["gateway"].config["SERVICES"])
    assert body["services"]["order_svc"] == {"count": 1, "messages": [
        {"event_type": "payment.succeeded", "event_id": "e1", "error": "RuntimeError: boom",
         "attempts": 5}]}
    assert body["total"] == 1


def test_replay_and_purge_answer_counts(client, admin_headers, letters):
    replayed = client.post("/admin/dead-letters/order_svc/replay", headers=admin_headers)
    assert replayed.status_code == 200 and replayed.get_json() == {"replayed": 1}
    purged = client.delete("/admin/dead-letters/order_svc", headers=admin_headers)
    assert purged.get_json() == {"purged": 0}


def test_an_unknown_service_is_404(client, admin_headers, letters):
    answer = client.post("/admin/dead-letters/nope_svc/replay", headers=admin_headers)
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found"
    assert letters.calls == []


def test_customers_are_refused(client, customer_headers, letters):
    assert client.get("/admin/dead-letters", headers=customer_headers).status_code == 403
    assert client.delete("/admin/dead-letters/order_svc").status_code == 401


def test_a_service_that_does_not_answer_is_503_naming_it(client, admin_headers, letters,
                                                           rpc):
    rpc.answers[("order_svc", "list_dead_letters")] = ServiceUnavailable(
        "order_svc is not running", {"service": "order_svc"})
    answer = client.get("/admin/dead-letters", headers=admin_headers)
    assert answer.status_code == 503
    assert answer.get_json()["error"]["details"] == {"service": "order_svc"}


def test_replay_takes_no_body_fields(client, admin_headers, letters):
    answer = client.post("/admin/dead-letters/order_svc/replay", headers=admin_headers,
                         json={"only": "these"})
    assert answer.status_code == 400 and "only" in str(answer.get_json()["error"]["details"])
    assert client.post("/admin/dead-letters/order_svc/replay", headers=admin_headers,
                       json={}).status_code == 200


@pytest.mark.parametrize(("method", "path", "answer"), [
    ("post", "/admin/dead-letters/order_svc/e1/replay", {"replayed": 1}),
    ("delete", "/admin/dead-letters/order_svc/e1", {"purged": 1}),
])
def test_one_letter_is_replayed_or_purged_by_its_event_id(client, admin_headers, letters,
                                                          method, path, answer):
    done = getattr(client, method)(path, headers=admin_headers)
    assert done.status_code == 200 and done.get_json() == answer
    assert letters.calls[-1][2] == "e1" and letters.letters["order_svc"] == []
    again = getattr(client, method)(path, headers=admin_headers)
    assert again.status_code == 404
    assert again.get_json()["error"]["details"] == {"service": "order_svc", "event_id": "e1"}


@pytest.mark.parametrize("path", ["/admin/dead-letters/nope_svc/e1",
                                  "/admin/dead-letters/order_svc/" + "x" * 65,
                                  "/admin/dead-letters/order_svc/a%20b"])
def test_an_unknown_service_or_a_malformed_event_id_is_404_without_rpc(
        client, admin_headers, letters, path):
    answer = client.delete(path, headers=admin_headers)
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found"
    assert letters.calls == []
    assert letters.letters["order_svc"][0]["event_id"] == "e1"


def test_customers_may_not_replay_one_letter(client, customer_headers, letters):
    answer = client.post("/admin/dead-letters/order_svc/e1/replay", headers=customer_headers)
    assert answer.status_code == 403 and letters.calls == []
