"""The message notify_svc sends, parsed back with the email package: its headers,
parts, encodings and line lengths, and the same content as EmailMessage would carry."""

import email
import email.policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from notify_svc.mailer import Outgoing, build_message

FROM = "Order Platform <orders@example.com>"
TEXT = "Hello Ann,\n\nYour order is confirmed.\n\n  2 x Sencha (TEA) at $4.50: $9.00\n"
HTML = '<html><body><p class="x">Hello Ann,</p>\n<p>Your order is confirmed.</p></body></html>\n'


def outgoing(**changes):
    fields = {"id": "1a2b3c4d-0000-4000-8000-000000000042", "attempt": 1,
              "kind": "order_confirmed", "recipient": "ann@example.com",
              "subject": "Order 1a2b3c4d confirmed", "body_text": TEXT, "body_html": HTML}
    return Outgoing(**{**fields, **changes})


def parsed(mail):
    return email.message_from_bytes(mail.data, policy=email.policy.default)


def reference(out, mail_from=FROM):
    """What the EmailMessage (default policy) code before it made of the same input."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = mail_from, out.recipient, out.subject
    message.set_content(out.body_text)
    if out.body_html:
        message.add_alternative(out.body_html, subtype="html")
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def test_the_headers_read_back():
    mail = build_message(outgoing(), FROM)
    message = parsed(mail)
    assert (message["From"], message["To"], message["Subject"]) == (
        FROM, "ann@example.com", "Order 1a2b3c4d confirmed")
    assert message["Message-ID"] == "<1a2b3c4d-0000-4000-8000-000000000042@order-platform>"
    assert parsedate_to_datetime(message["Date"]).utcoffset().total_seconds() == 0
    assert (message["Auto-Submitted"], message["X-Notification-Kind"]) == (
        "auto-generated", "order_confirmed")
    assert message["MIME-Version"] == "1.0" and message.defects == []
    assert (mail.sender, mail.recipients, mail.international) == (
        "orders@example.com", ("ann@example.com",), False)


def test_text_then_html_in_utf8_with_the_content_unchanged():
    message = parsed(build_message(outgoing(), FROM))
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    assert [p["Content-Transfer-Encoding"] for p in parts] == ["7bit", "7bit"]
    assert all(p.defects == [] for p in parts)
    texts = [p.get_content().replace("\r\n", "\n") for p in parts]
    assert texts == [TEXT, HTML]


@pytest.mark.parametrize("changes", [
    {},
    {"subject": "Commande 1a2b3c4d confirmée, Zoë", "body_text": "Merci Zoë ☕\n.\n..x\n"},
    {"body_html": None},
    {"body_text": "x" * 200 + "\n" + "tab\tand trailing space \n", "body_html": "<p>" + "é" * 120},
    {"subject": "A very long subject line " * 6, "body_text": "no final newline"},
])
def test_the_same_message_as_the_email_package_would_make(changes):
    out = outgoing(**changes)
    ours, theirs = parsed(build_message(out, FROM)), reference(out)
    for name in ("From", "To", "Subject", "Content-Type"):
        assert (ours.get_content_type() if name == "Content-Type" else ours[name]) == (
            theirs.get_content_type() if name == "Content-Type" else theirs[name])
    ours_parts = list(ours.iter_parts()) or [ours]
    theirs_parts = list(theirs.iter_parts()) or [theirs]
    assert [p.get_content_type() for p in ours_parts] == [
        p.get_content_type() for p in theirs_parts]
    assert [p.get_content().replace("\r\n", "\n") for p in ours_parts] == [
        p.get_content() for p in theirs_parts]


def test_non_ascii_goes_encoded_and_every_line_is_short_and_crlf_ended():
    out = outgoing(subject="Commande confirmée — merci beaucoup pour votre commande, Zoë",
                   body_text="Zoë " * 60 + "\n", body_html="<p>" + "é" * 300 + "</p>")
    data = build_message(out, "Boutique Été <shop@example.com>").data
    assert data.isascii()                         # RFC 2047 headers, quoted-printable bodies
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    message = parsed(build_message(out, "Boutique Été <shop@example.com>"))
    assert b"=?utf-8?" in data and message["Subject"] == out.subject
    assert message["From"] == "Boutique Été <shop@example.com>"
    assert [p["Content-Transfer-Encoding"] for p in message.iter_parts()] == [
        "quoted-printable", "quoted-printable"]
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert html == out.body_html + "\n"          # a part ends with a line end, as before


def test_without_html_it_is_a_plain_text_message():
    message = parsed(build_message(outgoing(body_html=None), FROM))
    assert message.get_content_type() == "text/plain" and not message.is_multipart()
    assert message.get_content().replace("\r\n", "\n") == TEXT


def test_the_built_mail_reads_like_an_email_message():
    mail = build_message(outgoing(), FROM)
    assert (mail["To"], mail.get_content_type()) == ("ann@example.com", "multipart/alternative")
    assert mail.get_body(("plain",)).get_content() == TEXT
    assert bytes(mail) == mail.data


def test_a_line_break_cannot_add_a_header():
    with pytest.raises(ValueError):
        build_message(outgoing(recipient="ann@example.com\r\nBcc: eve@example.com"), FROM)
    message = parsed(build_message(outgoing(subject="Hi\r\nBcc: eve@example.com"), FROM))
    assert message["Bcc"] is None and message["Subject"] == "Hi Bcc: eve@example.com"


def test_each_message_has_its_own_boundary_and_date_header():
    first, second = (build_message(outgoing(), FROM) for _ in range(2))
    assert parsed(first).get_boundary() != parsed(second).get_boundary()
