"""Sign in with an OpenID provider, end to end: a gateway process configured for a real
provider on loopback (oidc_provider.py), the session cluster's user_svc behind it.

The browser's part is played by a requests session (its cookie jar is the browser's);
each redirect is followed by hand so that every hop can be checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from common.config import ROOT
from common.testing import Process, free_port, wait_for
from tests.e2e.oidc_provider import OpenIdProvider

pytestmark = pytest.mark.e2e
CLIENT_ID, CLIENT_SECRET = "shop-e2e", "provider-secret"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SHOTS = os.environ.get("SCREENSHOT_DIR") or str(ROOT / "docs" / "screenshots")


@pytest.fixture(scope="module")
def oidc(cluster, tmp_path_factory):
    """(the gateway's URL, the provider): a gateway with google pointed at our provider."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with OpenIdProvider(CLIENT_ID, CLIENT_SECRET, f"{url}/auth/oidc/google/callback") as op:
        env = {**cluster.env, "GATEWAY_PORT": str(port), "PUBLIC_URL": url,
               "OIDC_GOOGLE_ISSUER": op.issuer, "OIDC_GOOGLE_CLIENT_ID": CLIENT_ID,
               "OIDC_GOOGLE_CLIENT_SECRET": CLIENT_SECRET}
        process = Process("gateway-oidc", [sys.executable, "-m", "gateway.server"], env,
                          str(tmp_path_factory.mktemp("gateway-oidc"))).start()
        try:
            wait_for(lambda: requests.get(f"{url}/health", timeout=5).status_code == 200,
                     timeout=30, interval=0.2, message="the OIDC gateway's /health")
            yield url, op
        finally:
            process.stop()


def new_person(op: OpenIdProvider, verified=True, email=None) -> str:
    email = email or f"g-{uuid.uuid4().hex[:10]}@example.com"
    op.user = {"sub": uuid.uuid4().hex, "email": email, "email_verified": verified,
               "name": "Gia Google"}
    return email


def start(url: str) -> tuple[requests.Session, str]:
    """Click "Sign in with Google": (the browser, the provider's answer: our callback)."""
    browser = requests.Session()
    begin = browser.get(f"{url}/auth/oidc/google/login", allow_redirects=False, timeout=10)
    assert begin.status_code == 302, begin.text
    consent = browser.get(begin.headers["Location"], allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    return browser, consent.headers["Location"]


def sign_in(url: str) -> dict:
    """The whole flow; the token pair the storefront ends up with."""
    browser, callback = start(url)
    back = browser.get(callback, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    assert back.headers["Location"].startswith("/#/oidc?code=lc_")
    code = parse_qs(urlsplit(back.headers["Location"].removeprefix("/#")).query)["code"][0]
    pair = requests.post(f"{url}/auth/oidc/exchange", json={"code": code}, timeout=10)
    assert pair.status_code == 200, pair.text
    again = requests.post(f"{url}/auth/oidc/exchange", json={"code": code}, timeout=10)
    assert again.status_code == 401 and again.json()["error"]["code"] == "unauthorized"
    return pair.json()


def me(url: str, pair: dict) -> dict:
    answer = requests.get(f"{url}/users/me", timeout=10,
                          headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def refused(browser: requests.Session, callback: str, html=False) -> requests.Response:
    answer = browser.get(callback, allow_redirects=False, timeout=10,
                         headers=HTML if html else {})
    if html:
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/#/login?error=")
    else:
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"
    return answer


def test_providers_are_listed_only_when_configured(oidc, cluster):
    url, _ = oidc
    assert requests.get(f"{url}/auth/oidc/providers", timeout=10).json() == {"items": [
        {"name": "google", "label": "Google", "login_url": "/auth/oidc/google/login"}]}
    assert cluster.get("/auth/oidc/providers").json() == {"items": []}
    assert cluster.get("/auth/oidc/google/login", allow_redirects=False).status_code == 404
    assert requests.get(f"{url}/auth/oidc/keycloak/login", timeout=10).status_code == 404


def test_login_redirects_with_state_nonce_and_pkce_in_a_guarded_cookie(oidc):
    url, op = oidc
    begin = requests.get(f"{url}/auth/oidc/google/login", allow_redirects=False, timeout=10)
    target = urlsplit(begin.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{op.issuer}/authorize"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["client_id"] == CLIENT_ID and len(query["state"]) >= 32
    assert query["nonce"] and "openid" in query["scope"].split()
    cookie = begin.headers["Set-Cookie"]
    for part in ("oidc_login=", "HttpOnly", "SameSite=Lax", "Path=/auth/oidc/", "Max-Age=600"):
        assert part in cookie
    for secret in (query["state"], query["nonce"]):  # sealed, not merely encoded
        assert secret not in cookie


def test_a_new_person_signs_in_and_then_again_as_the_same_account(oidc):
    url, op = oidc
    email = new_person(op)
    first = me(url, sign_in(url))
    assert first["email"] == email and first["email_verified"] is True
    assert first["name"] == "Gia Google" and first["role"] == "customer"
    assert me(url, sign_in(url))["id"] == first["id"]
    # The token request carried the PKCE verifier of this login.
    assert op.token_requests[-1]["code_verifier"]


def test_a_verified_email_signs_in_to_the_existing_account(oidc, cluster):
    url, op = oidc
    email = f"pw-{uuid.uuid4().hex[:10]}@example.com"
    made = cluster.post("/auth/register", json={"email": email, "password": "correct horse"})
    assert made.status_code == 201
    new_person(op, verified=True, email=email)
    assert me(url, sign_in(url))["id"] == made.json()["id"]
    # and the password still works
    assert cluster.post("/auth/login", json={"email": email, "password": "correct horse"}
                        ).status_code == 200


def test_an_unverified_email_does_not_take_over_an_existing_account(oidc, cluster):
    url, op = oidc
    email = f"victim-{uuid.uuid4().hex[:10]}@example.com"
    assert cluster.post("/auth/register", json={"email": email, "password": "correct horse"}
                        ).status_code == 201
    new_person(op, verified=False, email=email)
    browser, callback = start(url)
    answer = refused(browser, callback)
    assert "not verified" in answer.json()["error"]["message"]
    browser, callback = start(url)
    shown = refused(browser, callback, html=True)
    assert shown.headers["Location"] == "/#/login?error=email_unverified"
    new_person(op, verified=False)  # nor may it take an address nobody has yet
    refused(*start(url))


def test_a_forged_state_is_refused(oidc):
    url, op = oidc
    new_person(op)
    browser, callback = start(url)
    forged = callback.replace("state=", "state=x")
    assert "expired or was started elsewhere" in refused(browser, forged).json()["error"][
        "message"]
    refused(requests.Session(), callback)  # the right state, but not this browser's cookie


def test_a_replayed_code_is_refused(oidc):
    url, op = oidc
    new_person(op)
    browser, callback = start(url)
    cookie = browser.cookies.get("oidc_login")
    assert browser.get(callback, allow_redirects=False, timeout=10).status_code == 302
    assert browser.cookies.get("oidc_login") is None  # spent with the first use
    browser.cookies.set("oidc_login", cookie, path="/auth/oidc/")
    answer = refused(browser, callback)  # the provider refuses the code a second time
    assert "did not accept" in answer.json()["error"]["message"]


@pytest.mark.parametrize("claims", [
    {"aud": "another-client"},
    {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    {"nonce": "not-the-nonce-of-this-login"},
    {"iss": "https://accounts.example.org"},
], ids=["wrong-aud", "expired", "nonce-mismatch", "wrong-iss"])
def test_an_id_token_that_fails_verification_is_refused(oidc, claims):
    url, op = oidc
    new_person(op)
    op.next_claims = claims
    browser, callback = start(url)
    answer = refused(browser, callback)
    assert "could not be verified" in answer.json()["error"]["message"]


def test_a_missing_code_is_a_validation_error_and_a_cancel_goes_back_to_login(oidc):
    url, _ = oidc
    answer = requests.get(f"{url}/auth/oidc/google/callback?state=abc", timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"]["details"]["fields"] == [
        {"field": "code", "message": "required"}]
    cancelled = requests.get(f"{url}/auth/oidc/google/callback?error=access_denied",
                             headers=HTML, allow_redirects=False, timeout=10)
    assert cancelled.headers["Location"] == "/#/login?error=cancelled"


def test_an_unknown_code_is_refused_at_the_exchange(oidc):
    url, _ = oidc
    for body, status in (({"code": "lc_nope"}, 401), ({"code": ""}, 400), ({}, 400)):
        assert requests.post(f"{url}/auth/oidc/exchange", json=body, timeout=10
                             ).status_code == status


def test_the_storefront_signs_in_with_its_button(oidc):
    """In Chromium (browser_flows.oidc_sign_in): the button, the provider, signed in."""
    url, op = oidc
    new_person(op)
    assert os.path.exists("/usr/bin/chromium"), "apt-get install -y chromium"
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.browser_flows", "oidc_sign_in",
         json.dumps({"url": url, "shots": SHOTS, "name": "Gia Google"})],
        cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert json.loads(done.stdout.strip().splitlines()[-1])["url"].endswith("/#/")
