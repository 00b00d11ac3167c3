"""Sign in with an OpenID Connect provider (Google, or any issuer that has discovery).

    providers = Providers.from_config(config)        # those with an id and a secret
    url, pending = providers.begin("google", redirect_uri)   # where to send the browser
    identity = providers.finish("google", pending, code, redirect_uri)

The authorization-code flow with PKCE (S256), through Authlib's OAuth2 client; the
id_token is verified with joserfc (Authlib's JOSE): its signature against the issuer's
JWKS (asymmetric algorithms only, the keys fetched again once when a `kid` is new),
then `iss`, `aud` (our client id), `exp`, `iat`, `nonce`, `azp` and `at_hash` by
Authlib's CodeIDToken rules. What a failure means for the user is OidcFailure's message
(plain words) and its `reason` (a code: details.reason); `detail` is for the logs only.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2 import OAuth2Error
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from common.errors import ServiceUnavailable, Unauthorized

log = logging.getLogger(__name__)

SCOPE = "openid email profile"
# Never "none" nor HS* (an HMAC keyed by the client secret is not the issuer's proof).
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA")
METADATA_TTL_S = 3600
CLOCK_LEEWAY_S = 60


class OidcFailure(Unauthorized):
    """The provider's answer is not a sign-in we can accept (401)."""

    def __init__(self, message: str, reason: str, detail: str = ""):
        super().__init__(message, {"reason": reason})
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    issuer: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Pending:
    """What the callback needs of its login: kept in the browser's state cookie."""

    provider: str
    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls, provider: str) -> Pending:
        return cls(provider, secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                   secrets.token_urlsafe(48))  # 64 characters: RFC 7636 wants 43-128


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in (the id_token's verified claims)."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


class Providers:
    """The configured providers, their discovery documents and keys (cached)."""

    def __init__(self, providers: dict[str, Provider], timeout_s: float = 5.0):
        self.providers = providers
        self.timeout_s = timeout_s
        self._metadata: dict[str, tuple[float, dict]] = {}
        self._keys: dict[str, dict] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: dict) -> Providers:
        """OIDC_PROVIDERS of config.yml: {name: {LABEL, ISSUER, CLIENT_ID, CLIENT_SECRET}};
        a provider without an issuer, id or secret is not offered."""
        found = {}
        for name, block in (config.get("OIDC_PROVIDERS") or {}).items():
            block = block or {}
            values = [str(block.get(key) or "").strip()
                      for key in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET")]
            if all(values):
                found[name] = Provider(name, str(block.get("LABEL") or name.title()),
                                       values[0].rstrip("/"), values[1], values[2])
        return cls(found, float(config.get("OIDC_HTTP_TIMEOUT_S", 5)))

    def get(self, name: str) -> Provider | None:
        return self.providers.get(name)

    def metadata(self, provider: Provider) -> dict:
        """The issuer's discovery document (cached an hour), or ServiceUnavailable."""
        cached = self._metadata.get(provider.name)
        if cached is not None and time.monotonic() - cached[0] < METADATA_TTL_S:
            return cached[1]
        found = self._get_json(f"{provider.issuer}/.well-known/openid-configuration")
        if str(found.get("issuer", "")).rstrip("/") != provider.issuer:
            raise ServiceUnavailable("the sign-in provider's discovery names another issuer",
                                     {"provider": provider.name})
        with self._lock:
            self._metadata[provider.name] = (time.monotonic(), found)
            self._keys.pop(provider.name, None)
        return found

    def _get_json(self, url: str) -> dict:
        try:
            answer = requests.get(url, timeout=self.timeout_s)
            answer.raise_for_status()
            found = answer.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("OpenID provider unreachable at %s: %s", url, exc)
            raise ServiceUnavailable("the sign-in provider cannot be reached") from None
        if not isinstance(found, dict):
            raise ServiceUnavailable("the sign-in provider answered something else")
        return found

    def _key_set(self, provider: Provider, refresh: bool = False) -> KeySet:
        if refresh or provider.name not in self._keys:
            self._keys[provider.name] = self._get_json(self.metadata(provider)["jwks_uri"])
        return KeySet.import_key_set(self._keys[provider.name])

    def _client(self, provider: Provider, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(provider.client_id, provider.client_secret, scope=SCOPE,
                             redirect_uri=redirect_uri, code_challenge_method="S256")

    def begin(self, name: str, redirect_uri: str) -> tuple[str, Pending]:
        """(the issuer's authorization URL, what to keep for the callback)."""
        provider = self.providers[name]
        pending = Pending.new(name)
        url, _ = self._client(provider, redirect_uri).create_authorization_url(
            self.metadata(provider)["authorization_endpoint"], state=pending.state,
            nonce=pending.nonce, code_verifier=pending.verifier)
        return url, pending

    def finish(self, name: str, pending: Pending, code: str, redirect_uri: str) -> Identity:
        """Exchange `code` (with the PKCE verifier) and verify the id_token: the
        Identity, or OidcFailure (401), or ServiceUnavailable."""
        provider = self.providers[name]
        metadata = self.metadata(provider)
        with self._client(provider, redirect_uri) as client:
            try:
                token = client.fetch_token(metadata["token_endpoint"], code=code,
                                           code_verifier=pending.verifier,
                                           timeout=self.timeout_s)
            except requests.RequestException as exc:
                log.warning("token endpoint of %s unreachable: %s", name, exc)
                raise ServiceUnavailable("the sign-in provider cannot be reached") from None
            except (OAuthError, OAuth2Error) as exc:  # the provider said no
                raise OidcFailure("the sign-in provider did not accept this sign-in; "
                                  "please try again", "code_refused", str(exc)) from None
        if not token.get("id_token"):
            raise OidcFailure("the sign-in provider sent no identity", "no_id_token")
        claims = self._verified_claims(provider, metadata, token, pending.nonce)
        return Identity(issuer=provider.issuer, subject=str(claims["sub"]),
                        email=claims.get("email"),
                        email_verified=claims.get("email_verified") in (True, "true"),
                        name=claims.get("name"))

    def _verified_claims(self, provider: Provider, metadata: dict, token: dict,
                         nonce: str) -> CodeIDToken:
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        registry = JWSRegistry(algorithms=[alg for alg in offered if alg in ASYMMETRIC])
        try:
            try:
                decoded = jwt.decode(token["id_token"], self._key_set(provider),
                                     registry=registry)
            except InvalidKeyIdError:  # the issuer rotated its keys since we fetched them
                decoded = jwt.decode(token["id_token"], self._key_set(provider, True),
                                     registry=registry)
            claims = CodeIDToken(
                decoded.claims, decoded.header,
                {"iss": {"essential": True, "value": provider.issuer},
                 "aud": {"essential": True, "value": provider.client_id},
                 "sub": {"essential": True}, "exp": {"essential": True}},
                {"nonce": nonce, "client_id": provider.client_id,
                 "access_token": token.get("access_token")})
            claims.validate(leeway=CLOCK_LEEWAY_S)
        except (JoseError, ValueError) as exc:
            raise OidcFailure("the sign-in provider's answer could not be verified; "
                              "please try again", "id_token_invalid", repr(exc)) from None
        return claims
