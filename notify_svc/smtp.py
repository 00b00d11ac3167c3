"""The SMTP client of a notify process: a few kept connections, shared by its workers.

`SmtpClient.send(mail)` hands one `mailer.Mail` to SMTP_HOST:SMTP_PORT over a kept
connection: up to `pool_size` (SMTP_POOL_SIZE) connections per process, each used by
one green thread at a time, newest-idle first; a connection idle for `idle_s`
(SMTP_IDLE_S) seconds is closed (`close_idle`, run by the Mailer's reaper, and on the
next checkout). Opening one: EHLO, STARTTLS when SMTP_STARTTLS, LOGIN when SMTP_USER;
every socket operation is bounded by SMTP_TIMEOUT_S.

Failures:
- A kept connection that turns out dead (the server closed it while idle: EOF, reset,
  a 421) before the end of the message data went out: the server cannot have accepted
  the message, so the client reconnects and sends it once more, transparently.
- Dead after the data's final "." went out: the outcome is unknown, the error is
  raised (the caller retries later with the same Message-ID) and nothing is reported
  as sent.
- A 4xx/5xx answer ends the transaction: RSET, and the connection stays in use; 5xx
  (address refused, authentication rejected, too big) raises `PermanentMailError`,
  4xx the smtplib error (retryable).
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import ssl
import time

from eventlet.semaphore import Semaphore

log = logging.getLogger(__name__)

DEFAULT_IDLE_S = 30.0
DEFAULT_POOL_SIZE = 2

_LEADING_DOT = re.compile(rb"(?m)^\.")


class PermanentMailError(Exception):
    """The mail server refused for good (5xx): no automatic retry."""


class _Dropped(Exception):
    """A kept connection was dead before the message was committed: safe to resend."""


def _lost(exc: BaseException) -> bool:
    """Whether `exc` says the connection is gone (smtplib's errors are OSErrors too)."""
    return isinstance(exc, smtplib.SMTPServerDisconnected) or (
        isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException))


def _permanent(exc: smtplib.SMTPResponseException) -> Exception:
    """`exc` as raised to the caller: PermanentMailError for 5xx, else itself."""
    if 500 <= exc.smtp_code < 600:
        return PermanentMailError(f"{exc.smtp_code} {exc.smtp_error!r}")
    return exc


class _Connection:
    """One open SMTP session and when it was last used (time.monotonic())."""

    __slots__ = ("smtp", "used_at", "fresh")

    def __init__(self, smtp: smtplib.SMTP):
        self.smtp, self.used_at, self.fresh = smtp, time.monotonic(), True

    def close(self, polite: bool = True) -> None:
        """QUIT (when `polite`) and close; never raises."""
        with contextlib.suppress(Exception):
            if polite:
                self.smtp.quit()
        with contextlib.suppress(Exception):
            self.smtp.close()


class SmtpClient:
    """Kept SMTP connections of one process, shared by its green threads."""

    def __init__(self, host: str, port: int, *, starttls: bool = False,
                 user: str | None = None, password: str | None = None,
                 timeout: float = 10.0, idle_s: float = DEFAULT_IDLE_S,
                 pool_size: int = DEFAULT_POOL_SIZE):
        self.host, self.port, self.timeout = host, int(port), float(timeout)
        self.starttls, self.user, self.password = starttls, user or None, password or ""
        self.idle_s, self.pool_size = float(idle_s), max(1, int(pool_size))
        self.connections_opened = 0
        # Green threads switch only on I/O: the idle list needs no lock of its own; the
        # semaphore bounds the connections open (idle + in use) to pool_size.
        self._idle: list[_Connection] = []
        self._slots = Semaphore(self.pool_size)

    # -- connections --------------------------------------------------------------

    def _connect(self) -> _Connection:
        """A new session: greeting, EHLO, STARTTLS and LOGIN as configured; a 5xx on
        the way (service refused, authentication rejected) is a PermanentMailError."""
        smtp = None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password)
        except BaseException as exc:
            if smtp is not None:
                _Connection(smtp).close(polite=False)
            if isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600:
                raise _permanent(exc) from exc
            raise
        self.connections_opened += 1
        return _Connection(smtp)

    def _checkout(self) -> _Connection:
        """An idle connection still within idle_s (the newest), else a new one."""
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if now - connection.used_at < self.idle_s:
                connection.fresh = False
                return connection
            connection.close()
        return self._connect()

    def _checkin(self, connection: _Connection) -> None:
        if self.idle_s <= 0:
            connection.close()
            return
        connection.used_at = time.monotonic()
        self._idle.append(connection)

    def close_idle(self) -> int:
        """Close the connections idle for idle_s or more; how many were closed."""
        now = time.monotonic()
        stale = [c for c in self._idle if now - c.used_at >= self.idle_s]
        self._idle = [c for c in self._idle if c not in stale]
        for connection in stale:
            connection.close()
        return len(stale)

    def close(self, polite: bool = True) -> None:
        """Close every idle connection (QUIT first when `polite`)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close(polite)

    # -- sending ------------------------------------------------------------------

    def send(self, mail) -> None:
        """Hand `mail` (a mailer.Mail) to the server; return once it answered 250.

        Raises PermanentMailError for a 5xx answer, an smtplib error or OSError for
        anything retryable (4xx, connection refused, timeout, outcome unknown).
        """
        if not self._slots.acquire(timeout=self.timeout):
            raise smtplib.SMTPServerDisconnected(
                f"no SMTP connection free within {self.timeout:g}s")
        try:
            connection = self._checkout()
            try:
                self._send_on(connection, mail)
            except _Dropped as dropped:
                log.info("kept SMTP connection dropped (%s): reconnecting", dropped.__cause__)
                self._send_on(self._connect(), mail)   # a fresh one: never _Dropped
        finally:
            self._slots.release()

    def _send_on(self, connection: _Connection, mail) -> None:
        """One transaction; the connection is checked back in or closed, never leaked."""
        keep = False
        committed = False
        smtp = connection.smtp
        try:
            try:
                self._mail_and_rcpt(smtp, mail)
                smtp.putcmd("data")
                code, reply = smtp.getreply()
                if code != 354:
                    raise smtplib.SMTPDataError(code, reply)
                data = _LEADING_DOT.sub(b"..", mail.data)
                smtp.send(data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"))
                committed = True    # from here on the server may have kept the message
                code, reply = smtp.getreply()
                if code != 250:
                    raise smtplib.SMTPDataError(code, reply)
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421:         # the server is closing this connection
                    raise smtplib.SMTPServerDisconnected(f"421 {exc.smtp_error!r}") from exc
                keep = self._reset(smtp)
                raise _permanent(exc) from exc
            except smtplib.SMTPRecipientsRefused as exc:
                keep = self._reset(smtp)
                codes = [code for code, _ in exc.recipients.values()]
                if codes and all(500 <= code < 600 for code in codes):
                    raise PermanentMailError(f"recipient refused: {exc.recipients}") from exc
                raise
            except smtplib.SMTPNotSupportedError as exc:
                keep = self._reset(smtp)
                raise PermanentMailError(str(exc)) from exc
            keep = True
        except Exception as exc:
            if _lost(exc) and not connection.fresh and not committed:
                raise _Dropped(str(exc)) from exc
            raise
        finally:
            # Any other exit (an eventlet.Timeout mid-conversation too) leaves the
            # conversation in an unknown state: that connection is not used again.
            if keep:
                self._checkin(connection)
            else:
                connection.close(polite=False)

    @staticmethod
    def _mail_and_rcpt(smtp: smtplib.SMTP, mail) -> None:
        options = [f"SIZE={len(mail.data)}"] if smtp.has_extn("size") else []
        if mail.international:
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        code, reply = smtp.mail(mail.sender, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, mail.sender)
        refused = {}
        for recipient in mail.recipients:
            code, reply = smtp.rcpt(recipient)
            if code == 421:
                raise smtplib.SMTPResponseException(code, reply)
            if code not in (250, 251):
                refused[recipient] = (code, reply)
        if len(refused) == len(mail.recipients):
            raise smtplib.SMTPRecipientsRefused(refused)

    @staticmethod
    def _reset(smtp: smtplib.SMTP) -> bool:
        """RSET after a failed transaction; whether the connection is still usable."""
        try:
            return smtp.rset()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False
