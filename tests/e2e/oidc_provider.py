"""A real, small OpenID provider on loopback for the sign-in tests.

    with OpenIdProvider(client_id="shop", client_secret="s3cret",
                        redirect_uri=".../auth/oidc/google/callback") as provider:
        provider.user = {"sub": "1", "email": "ann@example.com", "email_verified": True}
        provider.next_claims = {"aud": "someone-else"}   # the next id_token only

Discovery (/.well-known/openid-configuration), JWKS (/jwks), authorize (/authorize:
consents at once as `user` and sends the browser back with a code) and token (/token:
client secret by Basic or form, the PKCE verifier against the S256 challenge, each code
once). id_tokens are RS256-signed with joserfc (Authlib's JOSE) by a key made per run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from common.testing import free_port


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):  # the test's output stays readable
        pass


class OpenIdProvider:
    def __init__(self, client_id: str, client_secret: str, redirect_uri: str):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uri = redirect_uri
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(4)})
        self.user: dict = {"sub": "1", "email": "ann@example.com", "email_verified": True}
        self.next_claims: dict = {}
        self.codes: dict[str, dict] = {}
        self.token_requests: list[dict] = []
        self._server = make_server("127.0.0.1", self.port, self.app, handler_class=_Quiet)

    def __enter__(self) -> OpenIdProvider:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def app(self, environ, start_response):
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        routes = {("GET", "/.well-known/openid-configuration"): self.discovery,
                  ("GET", "/jwks"): self.jwks, ("GET", "/authorize"): self.authorize,
                  ("POST", "/token"): self.token}
        handler = routes.get((method, path))
        if handler is None:
            status, headers, body = "404 Not Found", [], b""
        else:
            status, headers, body = handler(environ)
        start_response(status, [("Content-Length", str(len(body))), *headers])
        return [body]

    @staticmethod
    def _json(status: str, body: dict):
        return status, [("Content-Type", "application/json")], json.dumps(body).encode()

    def discovery(self, environ):
        return self._json("200 OK", {
            "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"]})

    def jwks(self, environ):
        return self._json("200 OK", KeySet([self.key]).as_dict(private=False))

    def authorize(self, environ):
        query = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
        if (query.get("client_id") != self.client_id
                or query.get("redirect_uri") != self.redirect_uri
                or query.get("response_type") != "code"
                or query.get("code_challenge_method") != "S256"
                or "openid" not in query.get("scope", "").split()):
            return self._json("400 Bad Request", {"error": "invalid_request", "got": query})
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"nonce": query.get("nonce"), "challenge": query["code_challenge"],
                            "user": dict(self.user), "extra": self.next_claims}
        self.next_claims = {}
        location = f"{self.redirect_uri}?{urlencode({'code': code, 'state': query['state']})}"
        return "302 Found", [("Location", location)], b""

    def token(self, environ):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(size).decode()).items()}
        self.token_requests.append(form)
        if not self._client_authenticated(environ, form):
            return self._json("401 Unauthorized", {"error": "invalid_client"})
        grant = self.codes.pop(form.get("code", ""), None)  # once: a replay finds nothing
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if grant is None or grant["challenge"] != challenge or \
                form.get("redirect_uri") != self.redirect_uri:
            return self._json("400 Bad Request", {"error": "invalid_grant"})
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], **grant["user"], **grant["extra"]}
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        return self._json("200 OK", {"access_token": secrets.token_urlsafe(16),
                                     "token_type": "Bearer", "expires_in": 300,
                                     "id_token": id_token})

    def _client_authenticated(self, environ, form: dict) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id"), form.get("client_secret")
        return client_id == self.client_id and secret == self.client_secret
