"""GET /notifications, GET /admin/notifications, POST /admin/notifications/{id}/retry:
RPC arguments, scoping, validation, answer shapes, errors and who may call.
"""

from __future__ import annotations

import pytest

from common.errors import Conflict, NotFound, ServiceUnavailable
from tests.unit.gateway.support import bearer, error_of, fields_of

USER_ID = "11111111-1111-4111-8111-111111111111"  # the make_token fixture's subject
ADMIN_ID = "22222222-2222-4222-8222-222222222222"
NOTIFICATION_ID = "55555555-5555-4555-8555-555555555555"

NOTIFICATION = {"id": NOTIFICATION_ID, "kind": "order_confirmed", "channel": "email",
                "subject": "Your order is confirmed", "status": "sent",
                "created_at": "2024-05-01T12:00:00+00:00",
                "sent_at": "2024-05-01T12:00:01+00:00"}
# What notify_svc may answer beyond the contract: none of it goes out.
ANSWER = {**NOTIFICATION, "user_id": USER_ID, "recipient": "ann@example.com",
          "body_html": "<p>secret</p>", "attempts": 1, "last_error": None,
          "order_id": "33333333-3333-4333-8333-333333333333"}
PENDING = {**NOTIFICATION, "status": "pending", "sent_at": None}


@pytest.fixture
def customer(make_token):
    return bearer(make_token())


@pytest.fixture
def admin(make_token):
    return bearer(make_token(role="admin", subject=ADMIN_ID))


@pytest.fixture
def answers(rpc):
    rpc.answers.update({
        ("notify_svc", "list_notifications"): {
            "items": [ANSWER, {**ANSWER, **PENDING}], "next_cursor": "c-2", "total": 2},
        ("notify_svc", "retry_notification"): {**ANSWER, **PENDING, "attempts": 2},
    })
    return rpc


def _error(response, status, code):
    assert response.status_code == status, response.data
    error = error_of(response)
    assert error["code"] == code
    return error


# GET /notifications


def test_a_user_lists_their_own_notifications(client, answers, customer):
    response = client.get("/notifications", headers=customer)
    assert response.status_code == 200
    assert response.get_json() == {"items": [NOTIFICATION, PENDING], "next_cursor": "c-2"}
    assert list(response.get_json()["items"][0]) == list(NOTIFICATION)
    call = answers.last()
    assert (call.service, call.method) == ("notify_svc", "list_notifications")
    assert call.kwargs == {"user_id": USER_ID, "status": None, "limit": 20, "cursor": None}
    assert call.correlation_id == response.headers["X-Request-ID"]


def test_the_list_pages_and_ignores_other_parameters(client, answers, customer):
    # Someone else's id or a status filter cannot widen or change the scope.
    response = client.get(f"/notifications?limit=5&cursor=c-2&user_id={ADMIN_ID}"
                          "&status=failed", headers=customer)
    assert response.status_code == 200
    assert answers.last().kwargs == {"user_id": USER_ID, "status": None, "limit": 5,
                                     "cursor": "c-2"}


def test_an_admin_user_sees_only_their_own_notifications_there(client, answers, admin):
    assert client.get("/notifications", headers=admin).status_code == 200
    assert answers.last().kwargs["user_id"] == ADMIN_ID


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?limit=x", "?cursor=" + "c" * 201])
def test_bad_paging_is_a_400(client, answers, customer, query):
    assert fields_of(client.get("/notifications" + query, headers=customer)) <= {
        "limit", "cursor"}
    assert answers.calls == []


@pytest.mark.parametrize("role", ["client", "admin"])
def test_api_clients_have_no_notifications(client, answers, make_token, role):
    headers = bearer(make_token(role=role, kind="client"))
    _error(client.get("/notifications", headers=headers), 403, "forbidden")
    assert answers.calls == []


def test_an_empty_page(client, rpc, customer):
    rpc.answers[("notify_svc", "list_notifications")] = {"items": [], "next_cursor": None}
    assert client.get("/notifications", headers=customer).get_json() == {
        "items": [], "next_cursor": None}


def test_notify_svc_down_is_a_503(client, rpc, customer):
    rpc.answers[("notify_svc", "list_notifications")] = ServiceUnavailable(
        "notify_svc is not running")
    _error(client.get("/notifications", headers=customer), 503, "service_unavailable")


# GET /admin/notifications


def test_admins_list_the_whole_log_with_each_recipient(client, answers, admin):
    response = client.get("/admin/notifications", headers=admin)
    assert response.status_code == 200
    detailed = {"recipient": "ann@example.com", "user_id": USER_ID, "attempts": 1,
                "last_error": None, "order_id": ANSWER["order_id"]}
    assert response.get_json() == {"items": [{**NOTIFICATION, **detailed},
                                             {**PENDING, **detailed}], "next_cursor": "c-2"}
    call = answers.last()
    assert (call.service, call.method, call.kwargs) == (
        "notify_svc", "list_notifications",
        {"user_id": None, "status": None, "limit": 20, "cursor": None, "detailed": True})


@pytest.mark.parametrize("status", ["pending", "sent", "failed"])
def test_admins_filter_by_status(client, answers, admin, status):
    response = client.get(f"/admin/notifications?status={status}&limit=100&cursor=c-1",
                          headers=admin)
    assert response.status_code == 200
    assert answers.last().kwargs == {"user_id": None, "status": status, "limit": 100,
                                     "cursor": "c-1", "detailed": True}


def test_an_empty_status_means_any(client, answers, admin):
    assert client.get("/admin/notifications?status=", headers=admin).status_code == 200
    assert answers.last().kwargs["status"] is None


@pytest.mark.parametrize("status", ["SENT", "delivered", "sent ", "0", "pending,sent"])
def test_an_unknown_status_is_a_400_naming_status(client, answers, admin, status):
    response = client.get("/admin/notifications", query_string={"status": status},
                          headers=admin)
    assert fields_of(response) == {"status"}
    assert answers.calls == []


def test_admin_api_clients_may_read_the_log(client, answers, make_token):
    headers = bearer(make_token(role="admin", kind="client"))
    assert client.get("/admin/notifications?status=failed", headers=headers
                      ).status_code == 200


# POST /admin/notifications/{id}/retry


@pytest.mark.parametrize("kwargs", [{}, {"json": {}}])
def test_a_retry_answers_the_notification(client, answers, admin, kwargs):
    response = client.post(f"/admin/notifications/{NOTIFICATION_ID.upper()}/retry",
                           headers=admin, **kwargs)
    assert response.status_code == 200
    assert response.get_json() == PENDING
    call = answers.last()
    assert (call.service, call.method, call.kwargs) == (
        "notify_svc", "retry_notification", {"notification_id": NOTIFICATION_ID})


def test_a_retry_body_with_fields_is_a_400(client, answers, admin):
    response = client.post(f"/admin/notifications/{NOTIFICATION_ID}/retry", headers=admin,
                           json={"force": True})
    assert fields_of(response) == {"force"}
    assert answers.calls == []


@pytest.mark.parametrize("notification_id", [
    "42", "not-a-uuid", NOTIFICATION_ID[:-1], NOTIFICATION_ID + "0",
    NOTIFICATION_ID.replace("-", ""), NOTIFICATION_ID.replace("5", "g", 1)])
def test_an_id_that_is_no_uuid_is_404_without_rpc(client, answers, admin, notification_id):
    _error(client.post(f"/admin/notifications/{notification_id}/retry", headers=admin),
           404, "not_found")
    assert answers.calls == []


@pytest.mark.parametrize(("exc", "status", "code"), [
    (NotFound("no such notification"), 404, "not_found"),
    (Conflict("already being sent"), 409, "conflict"),
])
def test_retry_maps_notify_svc_errors(client, answers, admin, exc, status, code):
    answers.answers[("notify_svc", "retry_notification")] = exc
    error = _error(client.post(f"/admin/notifications/{NOTIFICATION_ID}/retry",
                               headers=admin), status, code)
    assert error["message"] == str(exc)


# Who may call


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/notifications"), ("get", "/admin/notifications"),
    ("post", f"/admin/notifications/{NOTIFICATION_ID}/retry"),
])
def test_every_route_needs_a_token(client, answers, method, path):
    response = getattr(client, method)(path)
    _error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert answers.calls == []


@pytest.mark.parametrize(("role", "kind"), [("customer", "user"), ("client", "client")])
@pytest.mark.parametrize(("method", "path"), [
    ("get", "/admin/notifications"), ("get", "/admin/notifications?status=failed"),
    ("post", f"/admin/notifications/{NOTIFICATION_ID}/retry"),
])
def test_only_admins_use_the_admin_routes(client, answers, make_token, role, kind, method,
                                          path):
    headers = bearer(make_token(role=role, kind=kind))
    _error(getattr(client, method)(path, headers=headers), 403, "forbidden")
    assert answers.calls == []
