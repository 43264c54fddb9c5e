"""What the demo's people do, and when: each action is one service call in its own transaction.

An action whose request has moved on meanwhile (answered without waiting, cancelled,
handed to someone else) is refused by the service, as it would be in real use, and
simply does not happen.
"""

import io
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.demo import cast
from app.demo.files import ecg_png, letter_pdf
from app.demo.history import OPEN, History, deliver
from app.demo.timeline import after_work, appointment, lognormal, waking
from app.services import attachments, messages
from app.services import requests as flow
from models import (
    FINAL,
    AnswerCreate,
    CloseCreate,
    DeclineCreate,
    DeclineReason,
    MessageCreate,
    Outcome,
    PatientIdentity,
    Priority,
    Request,
    RequestCreate,
    Role,
    Status,
    User,
)

# What is asked, with weights (None: the whole specialty, no sub-specialty).
ASKED = [
    (("cardiologie", "rythmologie"), 30),
    (("cardiologie", "insuffisance-cardiaque"), 21),
    (("cardiologie", "coronaropathie"), 19),
    (("cardiologie", "hta"), 19),
    (("cardiologie", None), 6),
    (("medecine-vasculaire", "phlebologie"), 5),
]
# The close-out's "referral avoided", by the answer's outcome.
AVOIDED = {
    Outcome.ADVICE: 0.85,
    Outcome.CONSULTATION: 0.35,
    Outcome.ADVANCED_CONSULTATION: 0.45,
    Outcome.HOSPITAL_REFERRAL: 0.05,
}


class Year(History):
    """A year of requests, from submission to close-out."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.pace: dict[uuid.UUID, float] = {}
        self.outreach: set[uuid.UUID] = set()
        self.requesters: list[tuple[User, int]] = []
        self._patients: list[PatientIdentity] = []
        # The accounts the demo suggests trying: in its last days their queue fills up
        # (the specialist falls behind) and their questions wait (the GP is slow to reply).
        self.swamped_since = self.end - timedelta(days=10)
        self.showcase: dict[str, uuid.UUID] = {}

    def pace_of(self, specialist_id: uuid.UUID, now: datetime, *, answering: bool = False) -> float:
        """How slow the specialist is now; the showcase takes requests on, then falls behind."""
        pace = self.pace.get(specialist_id, 1.0)
        if answering and specialist_id == self.showcase.get("specialist"):
            if now >= self.swamped_since:
                pace *= 40  # nothing more answered before the present
        return pace

    def slow_to_reply(self, requester: User, now: datetime) -> bool:
        return requester.id == self.showcase.get("requester") and now >= self.swamped_since

    def react(
        self,
        request_id: uuid.UUID,
        assignee_id: uuid.UUID,
        assigned_at: datetime,
        priority: Priority,
    ) -> None:
        rng, pace = self.rng, self.pace_of(assignee_id, assigned_at)
        urgent = priority == Priority.URGENT
        draw = rng.random()
        if assignee_id == self.showcase.get("specialist") and assigned_at >= self.swamped_since:
            # Falling behind: takes requests on late in the day, within the deadline.
            hours = rng.uniform(1.5, 2.5) if urgent else rng.uniform(4, 7)
            self.at(
                after_work(self.calendar, assigned_at, hours), self.accept, request_id, assignee_id
            )
            return
        if draw < 0.015 and not urgent:
            return  # never acknowledged: the deadline passes and the dispatcher moves it on
        if draw < 0.05:
            later = after_work(self.calendar, assigned_at, lognormal(rng, 1.0, 0.8) * pace)
            self.at(later, self.decline, request_id, assignee_id)
            return
        delay = lognormal(rng, 0.35 if urgent else 1.0, 1.0) * pace
        self.at(after_work(self.calendar, assigned_at, delay), self.accept, request_id, assignee_id)

    def stranded(self, request_id: uuid.UUID, requester_id: uuid.UUID) -> None:
        """Nobody can take it (the only specialist of its pool declined it, or is away): the
        coordinator finds no one either, and the GP, told so, sends the patient elsewhere
        after some three working days. The last few days' stay waiting, for the coordinator
        to see; a demo left with year-old waiting requests would show an ESS nobody runs."""
        waited = timedelta(hours=lognormal(self.rng, 24, 0.3))
        later = self.calendar.add(self.now, waited)  # working hours, even if sent at night
        self.at(later, self.give_up, request_id, self.users[requester_id])

    async def give_up(self, now: datetime, request_id: uuid.UUID, requester: User) -> None:
        if self.allows(request_id, (Status.PENDING,)):
            await self.cancel(now, request_id, requester)

    # The requesters.

    def patient(self) -> PatientIdentity:
        """A fictitious patient; one in six is seen again for another question."""
        rng = self.rng
        if self._patients and rng.random() < 1 / 6:
            return rng.choice(self._patients)
        sex = rng.choice("FM")
        patient = PatientIdentity(
            first_name=rng.choice(cast.PATIENT_FIRST_NAMES[sex].split()),
            last_name=rng.choice(cast.PATIENT_LAST_NAMES),
            birth_date=date(rng.randint(1932, 2004), rng.randint(1, 12), rng.randint(1, 28)),
            sex=sex,
        )
        self._patients.append(patient)
        return patient

    async def submit(self, now: datetime, asked: tuple[str, str | None] | None = None) -> None:
        """A request from a requester drawn by their weight, about ``asked`` or a draw."""
        rng = self.rng
        users, weights = zip(*self.requesters, strict=True)
        requester = rng.choices(users, weights=weights)[0]
        (specialty, subspecialty), *_ = (
            [asked] if asked else rng.choices([a for a, _ in ASKED], weights=[w for _, w in ASKED])
        )
        patient = self.patient()
        texts = cast.QUESTIONS["phlebologie" if specialty != "cardiologie" else subspecialty]
        data = RequestCreate(
            specialty=specialty,
            subspecialty=subspecialty,
            priority=Priority.URGENT if rng.random() < 0.12 else Priority.STANDARD,
            question=rng.choice(texts).format(
                n=rng.randint(2, 8), age=now.year - patient.birth_date.year
            ),
            patient=patient,
            consent=True,
        )
        closed = not self.calendar.is_business_time(now)

        async def work(session: AsyncSession) -> Request:
            if closed:
                # An urgent alarm waits a few minutes in the digest: sent ones are not joined.
                await deliver(session, now)
            return await flow.submit(
                session, requester, data, now=now, policy=self.policy, vault=self.vault
            )

        request = await self.act(work)
        self.tally["submitted"] += 1
        self.follow(request)
        if rng.random() < 0.12:
            later = now + timedelta(minutes=rng.randint(1, 4))
            self.at(later, self.attach, request.id, requester, "ecg.png", None)
        if rng.random() < 0.04:
            later = now + timedelta(hours=lognormal(rng, 6, 1.2))
            self.at(later, self.cancel, request.id, requester)

    async def attach(
        self, now: datetime, request_id: uuid.UUID, author: User, name: str, content: bytes | None
    ) -> None:
        if content is None:
            content = ecg_png(self.rng.randrange(6))
        status, assignee = self.state[request_id]
        if status in FINAL or (author.role == Role.SPECIALIST and assignee != author.id):
            return

        async def work(session: AsyncSession) -> object:
            return await attachments.upload(
                session,
                author,
                request_id,
                filename=name,
                source=io.BytesIO(content),
                now=now,
                vault=self.vault,
                directory=self.directory,
                limit=self.limit,
            )

        await self.act(work)
        self.tally["attachments"] += 1

    async def cancel(self, now: datetime, request_id: uuid.UUID, requester: User) -> None:
        if not self.allows(request_id, OPEN):
            return
        request = await self.act(
            lambda s: flow.cancel(s, requester, request_id, now=now, policy=self.policy)
        )
        self.tally["cancelled"] += 1
        await self.after_release(request)

    async def reply(
        self, now: datetime, request_id: uuid.UUID, requester: User, specialist_id: uuid.UUID
    ) -> None:
        """The requester sends what was asked for; the answer clock resumes."""
        rng = self.rng

        if not self.allows(request_id, (Status.AWAITING_INFO,)):
            return  # answered without waiting, or cancelled
        body = rng.choice(cast.INFO_REPLIES)
        self.follow(await self.act(lambda s: self.post(s, requester, request_id, body, now)))
        if rng.random() < 0.3:
            self.at(now + timedelta(minutes=2), self.attach, request_id, requester, "ecg.png", None)
        delay = lognormal(rng, 2.0, 0.9) * self.pace_of(specialist_id, now, answering=True)
        self.at(after_work(self.calendar, now, delay), self.answer, request_id, specialist_id)

    async def follow_up(
        self, now: datetime, request_id: uuid.UUID, requester: User, specialist_id: uuid.UUID
    ) -> None:
        """After the answer, a question of the requester, and the specialist's reply."""
        question, response = self.rng.choice(cast.FOLLOW_UPS)
        if not self.allows(request_id, (Status.ANSWERED,)):
            return
        await self.act(lambda s: self.post(s, requester, request_id, question, now))
        later = after_work(self.calendar, now, lognormal(self.rng, 2.0, 0.8))
        self.at(later, self.respond, request_id, specialist_id, response)

    async def respond(
        self, now: datetime, request_id: uuid.UUID, author_id: uuid.UUID, body: str
    ) -> None:
        if self.allows(request_id, (Status.ANSWERED,)):
            await self.act(lambda s: self.post(s, self.users[author_id], request_id, body, now))

    async def close(
        self, now: datetime, request_id: uuid.UUID, requester: User, outcome: Outcome
    ) -> None:
        rng = self.rng
        if not self.allows(request_id, (Status.ANSWERED,)):
            return
        data = CloseCreate(
            usefulness=rng.choices([5, 4, 3, 2, 1], weights=[40, 35, 15, 7, 3])[0],
            referral_avoided=rng.random() < AVOIDED[outcome],
            comment=rng.choice(cast.CLOSE_COMMENTS) if rng.random() < 0.1 else None,
        )
        closed = await self.act(
            lambda s: flow.close(s, requester, request_id, data, now=now, vault=self.vault)
        )
        self.follow(closed)
        self.tally["closed"] += 1

    # The specialists.

    async def accept(self, now: datetime, request_id: uuid.UUID, specialist_id: uuid.UUID) -> None:
        rng, specialist = self.rng, self.users[specialist_id]
        if not self.allows(request_id, (Status.ASSIGNED,), specialist_id):
            return  # handed to someone else meanwhile, or cancelled

        request = await self.act(lambda s: flow.accept(s, specialist, request_id, now=now))
        self.tally["accepted"] += 1
        self.follow(request)
        requester = self.users[request.requester_id]
        pace = self.pace_of(specialist_id, now, answering=True)
        urgent = request.priority == Priority.URGENT
        asks = 1.0 if self.slow_to_reply(requester, now) else 0.12
        if rng.random() < asks and not urgent:
            delay = lognormal(rng, 1.0, 0.8) * self.pace_of(specialist_id, now)
            later = after_work(self.calendar, now, delay)
            self.at(later, self.ask_info, request_id, specialist_id, requester)
            return
        median, sigma = (1.5, 0.8) if urgent else (5.0, 1.0)
        later = after_work(self.calendar, now, lognormal(rng, median, sigma) * pace)
        self.at(later, self.answer, request_id, specialist_id)

    async def decline(self, now: datetime, request_id: uuid.UUID, specialist_id: uuid.UUID) -> None:
        rng = self.rng
        if not self.allows(request_id, (Status.ASSIGNED,), specialist_id):
            return
        reasons = list(DeclineReason)
        reason = rng.choices(reasons, weights=[40, 35, 5, 20][: len(reasons)])[0]
        comment = None
        if reason == DeclineReason.OUT_OF_FIELD and rng.random() < 0.5:
            comment = "La question relève plutôt d'un collègue d'une autre sur-spécialité."
        request = await self.act(
            lambda s: flow.decline(
                s,
                self.users[specialist_id],
                request_id,
                DeclineCreate(reason=reason, comment=comment),
                now=now,
                policy=self.policy,
                vault=self.vault,
            )
        )
        self.tally["declined"] += 1
        await self.after_release(request)  # handed on, and the decliner's place is free

    async def ask_info(
        self, now: datetime, request_id: uuid.UUID, specialist_id: uuid.UUID, requester: User
    ) -> None:
        rng = self.rng
        if not self.allows(request_id, (Status.ACCEPTED,), specialist_id):
            return
        body = rng.choice(cast.INFO_QUESTIONS)

        async def work(session: AsyncSession) -> Request:
            await messages.post_message(
                session,
                self.users[specialist_id],
                request_id,
                MessageCreate(body=body, request_info=True),
                now=now,
                policy=self.policy,
                vault=self.vault,
            )
            self.tally["messages"] += 1
            request = await session.get(Request, request_id)
            assert request is not None
            return request

        request = await self.act(work)
        self.tally["info_requested"] += 1
        self.follow(request)
        if rng.random() < 0.94:
            hours = 200 if self.slow_to_reply(requester, now) else lognormal(rng, 5, 1.0)
            later = waking(now, hours, self.zone)
            self.at(later, self.reply, request_id, requester, specialist_id)
        # Without a reply, the specialist answers with what they have, some days later.
        self.at(self.calendar.add(now, timedelta(hours=50)), self.answer, request_id, specialist_id)

    async def answer(self, now: datetime, request_id: uuid.UUID, specialist_id: uuid.UUID) -> None:
        rng = self.rng
        if not self.allows(request_id, (Status.ACCEPTED, Status.AWAITING_INFO), specialist_id):
            return  # already answered (after the reply, or without it), or cancelled
        outcome = self.outcome(specialist_id)
        when = None
        if outcome == Outcome.CONSULTATION:
            when = appointment(rng, now, lognormal(rng, 14, 0.7), self.zone)
        elif outcome == Outcome.ADVANCED_CONSULTATION:
            when = appointment(rng, now, lognormal(rng, 10, 0.6), self.zone)
        elif outcome == Outcome.HOSPITAL_REFERRAL and rng.random() < 0.6:
            when = appointment(rng, now, lognormal(rng, 5, 0.6), self.zone)
        text = rng.choice(cast.ANSWERS[outcome.value]).format(n=rng.randint(2, 6))
        request = await self.act(
            lambda s: flow.answer(
                s,
                self.users[specialist_id],
                request_id,
                AnswerCreate(answer=text, outcome=outcome, appointment_at=when),
                now=now,
                policy=self.policy,
                vault=self.vault,
            )
        )
        self.tally["answered"] += 1
        await self.after_release(request)
        requester = self.users[request.requester_id]
        if outcome == Outcome.HOSPITAL_REFERRAL or rng.random() < 0.03:
            letter = letter_pdf(
                "Courrier (document fictif de la démonstration)",
                ["Produit par la démo d'ess-router.", f"Conclusion : {outcome.value}"],
            )
            later = now + timedelta(minutes=rng.randint(1, 10))
            self.at(
                later, self.attach, request_id, self.users[specialist_id], "courrier.pdf", letter
            )
        if rng.random() < 0.05:
            later = waking(now, lognormal(rng, 4, 0.8), self.zone)
            self.at(later, self.follow_up, request_id, requester, specialist_id)
        if rng.random() < 0.88 and not self.slow_to_reply(requester, now):
            later = waking(now, lognormal(rng, 30, 1.0), self.zone)
            self.at(later, self.close, request_id, requester, outcome)

    def outcome(self, specialist_id: uuid.UUID) -> Outcome:
        outreach = specialist_id in self.outreach
        return self.rng.choices(
            list(Outcome), weights=[55, 22 if outreach else 32, 12 if outreach else 0, 11]
        )[0]

    async def post(
        self, session: AsyncSession, author: User, request_id: uuid.UUID, body: str, now: datetime
    ) -> Request:
        await messages.post_message(
            session,
            author,
            request_id,
            MessageCreate(body=body),
            now=now,
            policy=self.policy,
            vault=self.vault,
        )
        self.tally["messages"] += 1
        request = await session.get(Request, request_id)
        assert request is not None
        return request
