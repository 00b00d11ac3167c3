"""Email content from the jinja2 templates in notify_svc/templates/.

Every kind has three templates: `<kind>.subject.txt` (one line), `<kind>.txt` (the
plain-text part) and `<kind>.html` (the HTML part, extending `base.html`). Order mails
include `_order.txt` / `_order.html`: the lines, the total, the order id and a link.
HTML is autoescaped (a product called `<script>` shows as text); the text parts are not
escaped, since nothing interprets them. Undefined variables are errors, not blanks.

    rendered = render(ORDER_CONFIRMED, mail_context(ORDER_CONFIRMED, public_url, order=o))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notify_svc import domain

TEMPLATES = Path(__file__).resolve().parent / "templates"

ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters["money"] = domain.format_money


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def mail_context(kind: str, public_url: str, *, order: Mapping | None = None,
                 name: str | None = None, email: str | None = None,
                 reason: str | None = None, verification_token: str | None = None,
                 reset_token: str | None = None, shortages: list | None = None,
                 shop_name: str = domain.DEFAULT_SHOP_NAME) -> dict:
    """The variables of a kind's templates (order: the fields of an `order.*` event's
    snapshot, domain.order_view; verification_token: the welcome mail's link's;
    shortages: order.cancelled's [{sku, requested, available}], out of stock only;
    shop_name: in the header, subject and footer)."""
    if kind not in domain.KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    home = f"{public_url.rstrip('/')}/"
    context = {"kind": kind, "name": name, "email": email, "home_link": home,
               "shop_name": shop_name,
               "verify_link": f"{home}#/verify?token={quote(verification_token, safe='')}"
               if verification_token else None,
               "reset_link": f"{home}#/reset?token={quote(reset_token, safe='')}"
               if reset_token else None}
    if kind not in domain.ACCOUNT_KINDS:
        if order is None:
            raise ValueError(f"a {kind} notification needs its order")
        view = domain.order_view(order, public_url)
        context |= {"order": view, "link": view["link"], "reason": reason,
                    "reason_words": domain.reason_words(reason),
                    "money_back": domain.money_back_words(order.get("payment"),
                                                          view["currency"]),
                    "missing": domain.missing_items(shortages, order.get("items"))}
    return context


def render(kind: str, context: Mapping) -> Rendered:
    """The subject, text part and HTML part of a `kind` notification."""
    if kind not in domain.KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    subject = domain.one_line(ENV.get_template(f"{kind}.subject.txt").render(context))
    context = {**context, "subject": subject}
    return Rendered(subject=subject,
                    text=ENV.get_template(f"{kind}.txt").render(context),
                    html=ENV.get_template(f"{kind}.html").render(context))
