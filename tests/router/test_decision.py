"""The dispatcher's pure choice: fixed filter order, least recently assigned, ties by id."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from router.decision import Candidate, Exclusion, decide


def candidate(n: int, **fields: object) -> Candidate:
    return Candidate(
        id=uuid.UUID(int=n),
        name=f"Dr {n}",
        capacity=3,
        **fields,
    )


def test_least_recently_assigned_wins_and_never_assigned_first() -> None:
    pool = [candidate(1, rotation=5), candidate(2, rotation=4), candidate(3, rotation=0)]
    assert decide(pool).chosen.id == uuid.UUID(int=3)
    pool = [candidate(1, rotation=5), candidate(2, rotation=4)]
    assert decide(pool).chosen.id == uuid.UUID(int=2)


def test_ties_are_broken_by_id() -> None:
    pool = [candidate(9, rotation=2), candidate(4, rotation=2), candidate(7, rotation=2)]
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
    assert [e.reason for e in decision.excluded] == [Exclusion.INACTIVE, Exclusion.DECLINED]
    assert decision.excluded_counts == {Exclusion.INACTIVE: 1, Exclusion.DECLINED: 1}


def _candidate(n: int, flags: tuple[bool, ...], load: tuple[int, int], rotation: int):
    active, in_pool, on_schedule, absent, requester, declined = flags
    return Candidate(
        id=uuid.UUID(int=n),
        name=str(n),
        rotation=rotation,
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
    st.integers(0, 50),
)


@given(st.lists(candidates, max_size=30, unique_by=lambda c: c.id))
def test_never_picks_an_ineligible_specialist(pool: list[Candidate]) -> None:
    decision = decide(pool)
    eligible = [c for c in pool if c.exclusion() is None]
    assert decision.eligible_count == len(eligible)
    assert len(decision.excluded) == len(pool) - len(eligible)
    if decision.chosen is None:
        # "pending" only when nobody at all is eligible.
        assert eligible == []
        return
    chosen = next(c for c in pool if c.id == decision.chosen.id)
    assert chosen.exclusion() is None
    # Nobody eligible was assigned less recently than the one chosen.
    assert all((c.rotation, str(c.id)) >= (chosen.rotation, str(chosen.id)) for c in eligible)


# A simulated ESS: operations arrive in any order; the pure rules decide each dispatch.
operations = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.integers(0, 5)),
        st.tuples(st.just("answer"), st.integers(0, 200)),
        st.tuples(st.just("absence"), st.integers(3, 5)),
        st.tuples(st.just("back"), st.integers(3, 5)),
        st.tuples(st.just("decline"), st.integers(0, 200)),
    ),
    max_size=150,
)


@given(operations)
def test_always_eligible_specialists_share_within_one(ops: list[tuple[str, int]]) -> None:
    """Specialists 0-2 are always eligible (ample capacity, never away, never declining)."""
    steady = {uuid.UUID(int=n) for n in range(3)}
    ids = [uuid.UUID(int=n) for n in range(6)]
    rotation = dict.fromkeys(ids, 0)
    absent: set[uuid.UUID] = set()
    open_requests: list[tuple[int, uuid.UUID, set[uuid.UUID]]] = []  # (id, holder, decliners)
    counts = dict.fromkeys(ids, 0)
    turn = 0
    next_request = 0

    def place(request_id: int, decliners: set[uuid.UUID]) -> None:
        nonlocal turn
        pool = [
            Candidate(
                id=i,
                name=str(i),
                rotation=rotation[i],
                capacity=10_000,
                absent=i in absent,
                declined=i in decliners,
            )
            for i in ids
        ]
        decision = decide(pool)
        if decision.chosen is None:
            return
        turn += 1
        rotation[decision.chosen.id] = turn
        counts[decision.chosen.id] += 1
        open_requests.append((request_id, decision.chosen.id, decliners))

    for op, arg in ops:
        if op == "submit":
            place(next_request, set())
            next_request += 1
        elif op == "answer" and open_requests:
            open_requests.pop(arg % len(open_requests))
        elif op == "absence":
            absent.add(uuid.UUID(int=arg))
        elif op == "back":
            absent.discard(uuid.UUID(int=arg))
        elif op == "decline" and open_requests:
            request_id, holder, decliners = open_requests.pop(arg % len(open_requests))
            if holder not in steady:  # only the others ever decline
                place(request_id, decliners | {holder})
            else:
                open_requests.append((request_id, holder, decliners))
        steady_counts = [counts[i] for i in steady]
        assert max(steady_counts) - min(steady_counts) <= 1


def test_return_from_absence_takes_one_turn_not_a_flood() -> None:
    ids = [uuid.UUID(int=n) for n in range(3)]
    rotation = dict.fromkeys(ids, 0)
    turn = 0
    received: list[uuid.UUID] = []

    def submit(absent: set[uuid.UUID]) -> None:
        nonlocal turn
        pool = [
            Candidate(id=i, name=str(i), rotation=rotation[i], capacity=100, absent=i in absent)
            for i in ids
        ]
        chosen = decide(pool).chosen
        assert chosen is not None
        turn += 1
        rotation[chosen.id] = turn
        received.append(chosen.id)

    for _ in range(20):  # specialist 2 away for twenty requests
        submit({ids[2]})
    received.clear()
    for _ in range(6):
        submit(set())
    # Back from leave: one request first (their turn came long ago), then plain rotation.
    assert received[0] == ids[2]
    assert received.count(ids[2]) == 2
