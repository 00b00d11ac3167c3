"""Notification rules of notify_svc: pure functions, no nameko, no SQLAlchemy.

What each event sends (a kind, on one or two channels), how money, cancel reasons and
links read in a message, when a failed send is tried again, and how long a sender may
hold a notification (its lease) before another process may take it over.

    format_money(123450, "USD") == "$1,234.50"
    next_attempt_at(now, attempts=1, delays=[2, 10]) == now + 2 s   (None: give up)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr, quote

WELCOME, ORDER_CONFIRMED, ORDER_CANCELLED = "welcome", "order_confirmed", "order_cancelled"
ORDER_SHIPPED, ORDER_DELIVERED = "order_shipped", "order_delivered"
PASSWORD_RESET = "password_reset"
KINDS = (WELCOME, ORDER_CONFIRMED, ORDER_CANCELLED, ORDER_SHIPPED, ORDER_DELIVERED,
         PASSWORD_RESET)
# Kinds about the account, not an order.
ACCOUNT_KINDS = frozenset({WELCOME, PASSWORD_RESET})
EMAIL, SMS = "email", "sms"
CHANNELS = (EMAIL, SMS)
PENDING, SENT, FAILED = "pending", "sent", "failed"
STATUSES = (PENDING, SENT, FAILED)
# The SMS channel (a mock gateway: recorded, never sent) only carries the news a
# customer waits for at the door.
SMS_KINDS = frozenset({ORDER_SHIPPED, ORDER_DELIVERED})

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW"})
REASONS = {
    "out_of_stock": "an item in your order is out of stock",
    "payment_declined": "your payment was declined",
    "customer_request": "you asked us to cancel it",
    "expired": "it was not completed in time",
}
LIST_LIMIT_MAX = 100
# The storefront's name, when config.yml gives none (SHOP_NAME).
DEFAULT_SHOP_NAME = "Leaf & Bean"
DEFAULT_RETRY_DELAYS_S = (2, 10, 60, 300)
LEASE_MARGIN_S = 10.0
MIN_LEASE_MARGIN_S = 0.5


def channels(kind: str) -> tuple[str, ...]:
    """The channels a notification of `kind` goes out on."""
    return (EMAIL, SMS) if kind in SMS_KINDS else (EMAIL,)


def format_money(cents: int, currency: str = "USD") -> str:
    """Minor units for humans: "$1,234.50", "€12.00", "£3.10", "12.00 CHF", "1,200 JPY"."""
    currency = (currency or "USD").upper()
    sign = "-" if cents < 0 else ""
    if currency in ZERO_DECIMAL_CURRENCIES:
        amount = f"{abs(int(cents)):,}"
    else:
        units, minor = divmod(abs(int(cents)), 100)
        amount = f"{units:,}.{minor:02d}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def reason_words(reason: str | None) -> str:
    """Why an order was cancelled, as the end of "... was cancelled because <words>"."""
    if reason in REASONS:
        return REASONS[reason]
    return reason.replace("_", " ") if reason else "we could not complete it"


def short_id(order_id: str) -> str:
    """The first 8 characters of an order id: enough for a subject line."""
    return order_id[:8]


def order_link(public_url: str, order_id: str) -> str:
    """The storefront's page of the order."""
    return f"{public_url.rstrip('/')}/#/orders/{order_id}"


def one_line(text: str) -> str:
    """Whitespace collapsed: a header (the subject) never spans lines."""
    return " ".join(text.split())


def order_view(order: Mapping, public_url: str) -> dict:
    """What the templates show of an order snapshot (the fields of an `order.*` event:
    order_id, items, total_cents, currency, shipment, shipping_address), money already
    formatted and the address as label lines."""
    currency = order.get("currency") or "USD"
    items = [{"sku": line["sku"], "name": line["name"], "quantity": line["quantity"],
              "unit_price": format_money(line["unit_price_cents"], currency),
              "line_total": format_money(line.get("line_total_cents",
                                                  line["quantity"] * line["unit_price_cents"]),
                                         currency)}
             for line in order.get("items") or []]
    order_id = order["order_id"]
    return {"id": order_id, "short_id": short_id(order_id), "items": items,
            "total": format_money(order["total_cents"], currency), "currency": currency,
            "shipment": order.get("shipment"), "link": order_link(public_url, order_id),
            "address_lines": address_lines(order.get("shipping_address"))}


def address_lines(address: Mapping | None) -> list[str]:
    """A shipping address as the lines of a label (empty for none)."""
    if not address:
        return []
    town = " ".join(part for part in (address.get("postal_code"), address.get("city"))
                    if part)
    return [line for line in (address.get("name"), address.get("line1"),
                              address.get("line2"), town, address.get("country")) if line]


def sms_number(order: Mapping | None) -> str | None:
    """The phone an order's SMS goes to: its shipping address's, or None."""
    address = (order or {}).get("shipping_address") or {}
    return address.get("phone") or None


def sms_text(kind: str, order_id: str, link: str, shop_name: str = DEFAULT_SHOP_NAME) -> str:
    """The short text of the SMS channel."""
    news = {ORDER_SHIPPED: "is on its way", ORDER_DELIVERED: "has been delivered"}[kind]
    return f"{shop_name}: your order {short_id(order_id)} {news}. {link}"


def money_back_words(payment: Mapping | None, currency: str | None) -> str:
    """What a cancelled order means for the customer's money, as one sentence, from the
    snapshot's `payment` ({status, amount_cents, refunded_cents} or None).

    CAPTURED: the captured amount is about to be refunded (payment_svc refunds on
    order.cancelled); REFUNDED: it was; anything else (FAILED, None): no charge.
    """
    status = (payment or {}).get("status")
    if status == "REFUNDED":
        amount = payment.get("refunded_cents") or payment.get("amount_cents") or 0
        return f"The {format_money(amount, currency)} you paid has been refunded in full."
    if status == "CAPTURED" and payment.get("amount_cents"):
        return (f"The {format_money(payment['amount_cents'], currency)} you paid will be "
                "refunded in full to the card you paid with.")
    return "You were not charged for this order."


def missing_items(shortages: Iterable[Mapping] | None, items: Iterable[Mapping] | None
                  ) -> list[dict]:
    """The lines an out-of-stock order could not get, for the mail: [{sku, name,
    requested, available}], the name taken from the order's line of that sku (the sku
    itself when the order has none), `available` never below 0."""
    names = {line["sku"]: line.get("name") for line in items or []}
    return [{"sku": s["sku"], "name": names.get(s["sku"]) or s["sku"],
             "requested": int(s["requested"]), "available": max(int(s["available"]), 0)}
            for s in shortages or []]


def sender(mail_from: str, shop_name: str) -> str:
    """MAIL_FROM as the From header: its own display name if it has one, else the
    shop's ("orders@example.com" -> '"Leaf & Bean" <orders@example.com>')."""
    name, address = parseaddr(mail_from)
    if not address:
        raise ValueError(f"MAIL_FROM {mail_from!r} has no address")
    # Quoted as is (not RFC 2047-encoded here): the mailer encodes the header once.
    return mail_from if name else f'"{quote(shop_name)}" <{address}>'


# ---- sending and retrying --------------------------------------------------------------

def retry_delays_s(value: Iterable | float | str | None) -> tuple[float, ...]:
    """NOTIFY_RETRY_DELAYS_S: a list, one number or a "[2, 10]"/"2,10" string."""
    if value is None:
        return tuple(float(d) for d in DEFAULT_RETRY_DELAYS_S)
    if isinstance(value, str):
        value = [d for d in value.strip("[] ").split(",") if d.strip()]
    elif isinstance(value, int | float):
        value = [value]
    delays = tuple(float(d) for d in value)
    if any(d < 0 for d in delays):
        raise ValueError("retry delays cannot be negative")
    return delays


def next_attempt_at(now: datetime, attempts: int, delays: tuple[float, ...]
                    ) -> datetime | None:
    """When to send again after attempt number `attempts` failed; None: give up.

    One send at once, then one more after each delay: len(delays) + 1 in all.
    """
    if attempts > len(delays):
        return None
    return now + timedelta(seconds=delays[max(attempts, 1) - 1])


def as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@dataclass(frozen=True)
class Settings:
    """The configuration a notification needs, read once per worker."""

    mail_from: str
    public_url: str
    retry_delays_s: tuple[float, ...]
    smtp_timeout_s: float
    rpc_timeout_s: float
    lease_override_s: float | None = None
    shop_name: str = DEFAULT_SHOP_NAME

    @classmethod
    def from_config(cls, config: Mapping) -> Settings:
        """From config.yml; MAIL_FROM without a display name gets SHOP_NAME's."""
        lease = config.get("NOTIFY_LEASE_S")
        shop_name = one_line(str(config.get("SHOP_NAME") or "")) or DEFAULT_SHOP_NAME
        return cls(mail_from=sender(str(config.get("MAIL_FROM") or "orders@example.com"),
                                    shop_name),
                   shop_name=shop_name,
                   public_url=str(config.get("PUBLIC_URL") or "http://localhost:8000"),
                   retry_delays_s=retry_delays_s(config.get("NOTIFY_RETRY_DELAYS_S")),
                   smtp_timeout_s=float(config.get("SMTP_TIMEOUT_S") or 10),
                   rpc_timeout_s=float(config.get("SERVICE_RPC_TIMEOUT_S") or 5),
                   lease_override_s=float(lease) if lease else None)

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays_s) + 1

    @property
    def send_deadline_s(self) -> float:
        """One whole SMTP conversation may take this long, then it is cut."""
        return 2 * self.smtp_timeout_s

    @property
    def lease_s(self) -> float:
        """How long a sender holds a notification: longer than any send may last.

        NOTIFY_LEASE_S (optional, for tests and operators) may shorten the margin, but
        never below the send deadline: a lease that ran out mid-send could mean two.
        """
        if self.lease_override_s:
            return max(self.lease_override_s, self.send_deadline_s + MIN_LEASE_MARGIN_S)
        return self.send_deadline_s + LEASE_MARGIN_S


# ---- listing -------------------------------------------------------------------------

def check_limit(limit) -> int:
    if type(limit) is not int or not 1 <= limit <= LIST_LIMIT_MAX:
        raise ValueError(f"limit must be an integer from 1 to {LIST_LIMIT_MAX}")
    return limit


def check_status(status) -> str | None:
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    return status


def check_user_id(user_id) -> str | None:
    if user_id is not None and (not isinstance(user_id, str) or not 0 < len(user_id) <= 64):
        raise ValueError("user_id must be a string of 1 to 64 characters")
    return user_id
