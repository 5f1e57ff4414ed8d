"""Sending email through one small interface: SMTP when ``BOARD3_SMTP_URL`` is set, otherwise an
outbox directory where each message is written as an ``.eml`` file (owner-only), so embedded
mode works without a mail server. Messages can carry secrets (an invitation's link), so neither
implementation logs their bodies."""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from app.config import Settings
from app.lib.clock import utcnow

log = logging.getLogger("board3.mail")

SMTP_TIMEOUT = 15


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None:
        """Send ``mail`` or raise; never logs its body."""


def _message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="board3")
    message.set_content(mail.text)
    return message


class OutboxMailer:
    """Writes each message to ``<dir>/<time>-<id>.eml`` (directory 0700, files 0600)."""

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._write, mail)

    def _write(self, mail: Mail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{utcnow().strftime('%Y%m%dT%H%M%S.%f')}-{uuid.uuid4().hex[:8]}.eml"
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(bytes(_message(mail, self.sender)))
        log.info("mail to %s (%r) written to %s (no SMTP server is configured)", mail.to, mail.subject, path)


class SmtpMailer:
    """``smtp://`` (plain, or STARTTLS when the server offers it), ``smtp+starttls://`` (STARTTLS
    required) or ``smtps://`` (TLS from the start), with optional ``user:password@``."""

    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (
            465 if self.scheme == "smtps" else 587 if self.scheme.endswith("starttls") else 25
        )
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._send, mail)

    def _send(self, mail: Mail) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)
        with smtp:
            smtp.ehlo()
            if self.scheme == "smtp+starttls" or (self.scheme == "smtp" and smtp.has_extn("starttls")):
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(_message(mail, self.sender))
        log.info("mail to %s (%r) sent through %s:%d", mail.to, mail.subject, self.host, self.port)


def make_mailer(settings: Settings) -> Mailer:
    notify = settings.notify
    if notify.smtp_url:
        return SmtpMailer(notify.smtp_url, notify.mail_from)
    return OutboxMailer(notify.outbox_dir or settings.data_dir / "outbox", notify.mail_from)
