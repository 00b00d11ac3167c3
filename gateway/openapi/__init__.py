"""The OpenAPI 3.1 document of the whole HTTP contract (docs/http-api.md), served at
GET /openapi.json and read by /docs.

    spec()          # the document, built once per process (read-only)
    build_spec()    # a copy to change
    bp              # the blueprint of GET /openapi.json (gateway/routes registers it)

Each operation's operationId and description (Markdown) come from texts.py, the
examples from examples.py. Kept true two ways: request bodies are the JSON Schemas of
the pydantic models the views validate with (components.py), and
tests/unit/gateway/test_openapi.py compares its paths and methods with the app's url_map
in both directions. tests/e2e/test_fuzz.py then runs schemathesis against a live gateway
with it.
"""

from __future__ import annotations

import copy
import functools

from flask import Blueprint

from gateway.openapi import examples
from gateway.openapi.components import components
from gateway.openapi.paths import paths
from gateway.openapi.texts import TEXTS

TAGS = ["auth", "users", "catalog", "orders", "notifications", "events", "admin", "health",
        "docs"]
DESCRIPTION = """\
The only door to the shop's services. Conventions shared by every operation:

- **JSON** in and out; money in integer minor units (`*_cents`, `1250` is $12.50) plus
  `currency`.
- **Errors** are `{"error": {"code", "message", "details"}}` with the status of their
  code (`validation_error` 400 names each bad field in `details.fields`); bad input is
  never a 500. A 429 or 503 says when to retry in `Retry-After`.
- **Lists** take `?limit=1..100&cursor=` and answer `{"items": [...], "next_cursor"}`;
  pass `next_cursor` back for the next page, `null` means the last.
- **Auth**: `Authorization: Bearer <access_token>`, from `POST /auth/login` (users) or
  `POST /auth/token` (API clients, OAuth2 client credentials). Roles: customer, admin,
  client.
- Every answer carries `X-Request-ID` (yours, or a new one): quote it when asking what
  happened to a request.

Each operation below can be tried from this page: paste a token in the field above the
list (a signed-in storefront tab fills it in)."""


@functools.lru_cache(maxsize=1)
def spec() -> dict:
    """The document, built once per process; shared, so treat it as read-only."""
    found_paths, found_components = paths(), components()
    describe(found_paths)
    examples.apply(found_paths, found_components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Order platform API", "version": "1.0.0",
                 "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [{"name": tag} for tag in TAGS],
        "paths": found_paths,
        "components": found_components,
    }


def describe(found_paths: dict) -> None:
    """Give each operation its operationId and description (texts.py), in place; one
    that texts.py does not name is left without (a unit test fails on it)."""
    for path, item in found_paths.items():
        for method, operation in item.items():
            text = TEXTS.get(f"{method} {path}")
            if text is not None:
                operation["operationId"], operation["description"] = text


def build_spec() -> dict:
    """The document (a copy: callers may change theirs)."""
    return copy.deepcopy(spec())


bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
def openapi_json():
    """The document, to anyone (it is the public contract); /docs renders it."""
    return spec(), 200, {"Cache-Control": "no-cache"}
