"""Sending e-mail: a small interface and an SMTP implementation on the standard library.

The planners' digest is the only mail the service sends. What matters for "never twice"
is telling apart a mail that certainly did not go out (the server could not be reached,
or it refused the sender, the recipients or the message) from one that may have: a
connection that breaks after the message was handed over. ``MailRefused`` and
``MailUncertain`` say which; the caller records it and does not resend an uncertain one.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from core.settings import Settings

# Deliberately plain: local part and a dotted domain, no spaces, no display names.
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
MAX_ADDRESS = 254


def check_address(value: str) -> str:
    """An e-mail address as stored (trimmed, domain in lower case); ValueError naming
    the rule otherwise."""
    text = value.strip()
    if len(text) > MAX_ADDRESS or not _ADDRESS.match(text):
        raise ValueError("not an e-mail address such as naam@voorbeeld.nl")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    # A stable id per message (the digest's region and day), so a mail reader can tell
    # a copy from a new message.
    message_id: str | None = None

    def message(self) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        # The recipients are not shown to each other; the envelope carries them.
        msg["To"] = "undisclosed-recipients:;"
        msg["Subject"] = self.subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = self.message_id or make_msgid(domain="samenop.local")
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(self.text)
        if self.html is not None:
            msg.add_alternative(self.html, subtype="html")
        return msg


class MailRefused(Exception):
    """The mail did not go out (nothing was handed over, or the server refused it)."""


class MailUncertain(Exception):
    """The connection broke while the message was being handed over: it may have gone."""


class Mailer(Protocol):
    def send(self, mail: Mail) -> None:
        """Hand the mail to the server; raises ``MailRefused`` or ``MailUncertain``."""


class SmtpMailer:
    """One SMTP connection per mail (a digest goes out once a day per region)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = True,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.starttls = starttls
        self.user = user
        self.password = password
        self.timeout = timeout

    def send(self, mail: Mail) -> None:
        if not mail.recipients:
            raise MailRefused("no recipients")
        message = mail.message()
        try:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailRefused(f"cannot reach {self.host}:{self.port}: {exc}") from exc
        handed_over = False
        try:
            client.ehlo()
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if self.user:
                client.login(self.user, self.password or "")
            handed_over = True  # from here on the server may have taken the message
            refused = client.send_message(message, mail.sender, list(mail.recipients))
        except (
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPDataError,
            smtplib.SMTPAuthenticationError,
            smtplib.SMTPNotSupportedError,
            smtplib.SMTPHeloError,
        ) as exc:
            raise MailRefused(str(exc)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            if handed_over:
                raise MailUncertain(str(exc)) from exc
            raise MailRefused(str(exc)) from exc
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        if refused and len(refused) == len(mail.recipients):
            raise MailRefused(f"every recipient refused: {sorted(refused)}")


def smtp_mailer(settings: Settings) -> SmtpMailer | None:
    """The mail server the settings name; None when none is set (no mail is sent)."""
    if not settings.smtp_host:
        return None
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        starttls=settings.smtp_starttls,
        user=settings.smtp_user,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout_seconds,
    )
