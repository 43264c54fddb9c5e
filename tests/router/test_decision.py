"""The dispatcher's pure choice: fixed filter order, least recently assigned, ties by id."""

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from router.decision import Candidate, Exclusion, decide

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def candidate(n: int, **fields: object) -> Candidate:
    return Candidate(
        id=uuid.UUID(int=n),
        name=f"Dr {n}",
        last_assigned_at=fields.pop("last", None),
        capacity=3,
        **fields,
    )


def test_least_recently_assigned_wins_and_never_assigned_first() -> None:
    pool = [candidate(1, last=T), candidate(2, last=T - timedelta(hours=1)), candidate(3)]
    assert decide(pool).chosen.id == uuid.UUID(int=3)
    pool = [candidate(1, last=T), candidate(2, last=T - timedelta(hours=1))]
    assert decide(pool).chosen.id == uuid.UUID(int=2)


def test_ties_are_broken_by_id() -> None:
    pool = [candidate(9, last=T), candidate(4, last=T), candidate(7, last=T)]
    assert decide(pool).chosen.id == uuid.UUID(int=4)


def test_first_failing_rule_is_the_reason_in_fixed_order() -> None:
    everything_wrong = candidate(1, active=False, in_pool=False, absent=True, declined=True)
    assert everything_wrong.exclusion() is Exclusion.INACTIVE
    assert candidate(2, in_pool=False, declined=True).exclusion() is Exclusion.NOT_IN_POOL
    assert candidate(3, on_schedule=False, absent=True).exclusion() is Exclusion.OFF_SCHEDULE
    assert candidate(4, absent=True, open_count=9).exclusion() is Exclusion.ABSENT
    assert candidate(5, open_count=3, is_requester=True).exclusion() is Exclusion.AT_CAPACITY
    assert candidate(6, is_requester=True, declined=True).exclusion() is Exclusion.IS_REQUESTER
    assert candidate(7, declined=True).exclusion() is Exclusion.DECLINED
    assert candidate(8, open_count=2).exclusion() is None


def test_nobody_eligible_gives_no_choice_and_every_reason() -> None:
    pool = [candidate(1, active=False), candidate(2, declined=True)]
    decision = decide(pool)
    assert decision.chosen is None
    assert decision.eligible_count == 0
    assert [reason for _, reason in decision.excluded] == [Exclusion.INACTIVE, Exclusion.DECLINED]


def _candidate(n: int, flags: tuple[bool, ...], load: tuple[int, int], minutes: int | None):
    active, in_pool, on_schedule, absent, requester, declined = flags
    return Candidate(
        id=uuid.UUID(int=n),
        name=str(n),
        last_assigned_at=None if minutes is None else T + timedelta(minutes=minutes),
        active=active,
        in_pool=in_pool,
        on_schedule=on_schedule,
        absent=absent,
        open_count=load[0],
        capacity=load[1],
        is_requester=requester,
        declined=declined,
    )


candidates = st.builds(
    _candidate,
    st.integers(0, 10_000),
    st.tuples(*[st.booleans()] * 6),
    st.tuples(st.integers(0, 6), st.integers(0, 6)),
    st.none() | st.integers(0, 600),
)


@given(st.lists(candidates, max_size=30, unique_by=lambda c: c.id))
def test_never_picks_an_ineligible_specialist(pool: list[Candidate]) -> None:
    decision = decide(pool)
    eligible = [c for c in pool if c.exclusion() is None]
    assert decision.eligible_count == len(eligible)
    if decision.chosen is None:
        assert eligible == []
    else:
        assert decision.chosen.exclusion() is None
        # Nobody eligible was assigned less recently than the one chosen.
        for other in eligible:
            if decision.chosen.last_assigned_at is not None:
                assert other.last_assigned_at is not None
                assert other.last_assigned_at >= decision.chosen.last_assigned_at
