"""The pages: the web storefront at `/` and the API reference at `/docs`.

Both are a template and static files (gateway/templates, gateway/static; no build
step, nothing fetched from another origin). The storefront is a single page that
routes on the URL fragment (`/#/orders/<id>` is the link in emails, `/#/admin` the
admin page) and talks to the public HTTP API only, like any other client. No inline
script or style anywhere, so a Content-Security-Policy of 'self' holds.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from gateway.state import state

bp = Blueprint("web", __name__)

DEFAULT_SHOP_NAME = "Leaf & Bean"

# The payment tokens of the mock provider (DESIGN: "Mock payment tokens"), offered at
# checkout; the first is the default.
PAYMENT_TOKENS = (
    ("tok_ok", "Test card: pays"),
    ("tok_declined", "Test card: declined"),
    ("tok_insufficient_funds", "Test card: insufficient funds"),
    ("tok_flaky", "Test card: fails twice at the provider, then pays"),
    ("tok_slow", "Test card: pays after a delay"),
)

PAGE_HEADERS = {"Cache-Control": "no-cache"}  # the page names the current static files


def shop_name() -> str:
    """SHOP_NAME (config.yml): the pages' title and header, as in the mails."""
    return " ".join(str(state().config.get("SHOP_NAME") or "").split()) or DEFAULT_SHOP_NAME


@bp.get("/")
def storefront():
    """The storefront's single page (everything else happens in static/js)."""
    return render_template("index.html", payment_tokens=PAYMENT_TOKENS,
                           shop_name=shop_name()), PAGE_HEADERS


@bp.get("/docs")
def docs():
    """A page that renders /openapi.json in the browser (static/js/docs.js)."""
    return render_template("docs.html", shop_name=shop_name()), PAGE_HEADERS
