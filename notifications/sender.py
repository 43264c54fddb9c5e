"""The outbox sender: claim due notifications, send them over SMTP, never lose or repeat one.

- Rows are claimed in a short transaction (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL) with a lease: a sender that crashes mid-batch leaves leases that
  expire, and its rows are claimed again.
- Each row's idempotency key is the e-mail's ``Message-ID``: if a crash falls
  between the SMTP server's acceptance and the "sent" mark, the retry carries the
  same Message-ID, which mail systems and people can recognise as a repeat.
- A failure is retried with exponential backoff and jitter; after ``max_age`` the
  row is ``failed`` and shown to the coordinator. Without an SMTP host rows wait
  as ``held``, and are sent as soon as a host is configured.
"""

import asyncio
import logging
import random
import ssl
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from zoneinfo import ZoneInfo

import aiosmtplib
from sqlalchemy import or_, select, update

from config import Clock
from config.settings import SmtpSettings
from models import OutboxMessage, OutboxStatus, User
from models.storage import Database
from notifications.render import RenderError, render

logger = logging.getLogger("ess_router.notifications")

LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)


class OutboxSender:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        smtp: SmtpSettings,
        *,
        base_url: str,
        zone: ZoneInfo,
        link_secret: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.smtp = smtp
        self.base_url = base_url
        self.zone = zone
        # Writes the single-use links of account e-mails (``security.tokens``).
        self.link_secret = link_secret
        self._random = random.Random()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; a failing round never ends the loop."""
        while not stop.is_set():
            try:
                sent = await self.send_due()
            except Exception:
                logger.exception("outbox round failed; retrying at the next round")
                sent = 0
            if sent == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.smtp.poll_seconds)
                except TimeoutError:
                    pass

    async def send_due(self) -> int:
        """Send one batch of due notifications; return how many were sent."""
        now = self.clock.now()
        if not self.smtp.host:
            await self._hold(now)
            return 0
        claimed = await self._claim(now)
        if not claimed:
            return 0
        names = await self._recipients(claimed)
        sent: list[uuid.UUID] = []
        failures: dict[uuid.UUID, str] = {}
        try:
            async with self._client() as client:
                for message in claimed:
                    recipient = names.get(message.recipient_id)
                    if recipient is None:
                        failures[message.id] = "destinataire introuvable ou sans adresse"
                        continue
                    try:
                        await client.send_message(self._email(message, *recipient))
                        sent.append(message.id)
                    except RenderError as exc:
                        failures[message.id] = f"message impossible à écrire : {exc}"
                    except aiosmtplib.SMTPRecipientsRefused as exc:
                        failures[message.id] = f"adresse refusée par le serveur SMTP : {exc}"
                    except aiosmtplib.SMTPResponseException as exc:
                        failures[message.id] = f"refus du serveur SMTP ({exc.code}) : {exc.message}"
        except aiosmtplib.SMTPAuthenticationError as exc:
            reason = (
                f"authentification SMTP refusée ({exc.code}) : "
                "vérifiez ESS_SMTP__USERNAME et ESS_SMTP__PASSWORD"
            )
            failures.update({m.id: reason for m in claimed if m.id not in sent})
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
            reason = f"serveur SMTP injoignable ({self.smtp.host}:{self.smtp.port}) : {exc}"
            failures.update({m.id: reason for m in claimed if m.id not in sent})
        await self._settle(claimed, sent, failures)
        return len(sent)

    def _client(self) -> aiosmtplib.SMTP:
        tls_context = None
        if self.smtp.ca_file is not None:
            tls_context = ssl.create_default_context(cafile=str(self.smtp.ca_file))
        return aiosmtplib.SMTP(
            hostname=self.smtp.host,
            port=self.smtp.port,
            username=self.smtp.username,
            password=self.smtp.password.get_secret_value() if self.smtp.password else None,
            use_tls=self.smtp.use_tls,
            start_tls=True if self.smtp.starttls else False,
            timeout=self.smtp.timeout,
            validate_certs=self.smtp.validate_certs,
            tls_context=tls_context,
        )

    def _email(self, message: OutboxMessage, name: str, address: str) -> EmailMessage:
        # A new address being confirmed receives its link there, not at the account's.
        address = str(message.params.get("address") or address)
        content = render(
            message,
            recipient_name=name,
            base_url=self.base_url,
            zone=self.zone,
            link_secret=self.link_secret,
            address=address,
        )
        email = EmailMessage()
        email["From"] = self.smtp.sender
        email["To"] = formataddr((name, address))
        email["Subject"] = content.subject
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = message_id(message)
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(content.text)
        email.add_alternative(content.html, subtype="html")
        return email

    async def _hold(self, now: datetime) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .values(
                    status=OutboxStatus.HELD,
                    last_error="aucun serveur SMTP configuré (ESS_SMTP__HOST)",
                )
            )

    async def _claim(self, now: datetime) -> list[OutboxMessage]:
        async with self.db.transaction() as session:
            # Held rows wait for a host; now that there is one, they are due.
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.HELD)
                .values(status=OutboxStatus.PENDING, last_error=None)
            )
            rows = (
                (
                    await session.execute(
                        select(OutboxMessage)
                        .where(
                            OutboxMessage.status == OutboxStatus.PENDING,
                            OutboxMessage.next_attempt_at <= now,
                            or_(
                                OutboxMessage.lease_until.is_(None),
                                OutboxMessage.lease_until <= now,
                            ),
                        )
                        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at)
                        .limit(self.smtp.batch_size)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            for row in rows:
                row.lease_until = now + LEASE
                row.attempts += 1
            return list(rows)

    async def _recipients(
        self, messages: Sequence[OutboxMessage]
    ) -> dict[uuid.UUID, tuple[str, str]]:
        async with self.db.reading() as session:
            rows = await session.execute(
                select(User.id, User.name, User.email).where(
                    User.id.in_({m.recipient_id for m in messages})
                )
            )
            return {uid: (name, email) for uid, name, email in rows}

    async def _settle(
        self,
        claimed: Sequence[OutboxMessage],
        sent: list[uuid.UUID],
        failures: dict[uuid.UUID, str],
    ) -> None:
        now = self.clock.now()
        async with self.db.transaction() as session:
            if sent:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(sent))
                    .values(
                        status=OutboxStatus.SENT, sent_at=now, lease_until=None, last_error=None
                    )
                )
            for message in claimed:
                if message.id not in failures:
                    continue
                too_old = now - message.queued_at >= self.smtp.max_age
                logger.warning(
                    "notification %s not sent (attempt %d): %s",
                    message.idempotency_key,
                    message.attempts,
                    failures[message.id],
                )
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message.id)
                    .values(
                        status=OutboxStatus.FAILED if too_old else OutboxStatus.PENDING,
                        next_attempt_at=now + self._backoff(message.attempts),
                        lease_until=None,
                        last_error=failures[message.id],
                    )
                )

    def _backoff(self, attempts: int) -> timedelta:
        base = self.smtp.retry_after * (2 ** max(attempts - 1, 0))
        capped = min(base, MAX_BACKOFF)
        # Jitter spreads the retries of a whole batch after an outage.
        return capped * (0.5 + self._random.random() / 2)


def message_id(message: OutboxMessage) -> str:
    return f"<{message.idempotency_key}@ess-router>"
