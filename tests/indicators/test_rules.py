"""The pure rules behind the indicators: periods in Paris time, percentiles, grant, coverage."""

import statistics
import uuid
from datetime import UTC, date, datetime

import pytest

from app.services.indicators import parse_period
from app.services.indicators.labels import month_label
from app.services.indicators.membership import Member, estimated_grant, membership
from app.services.indicators.report import display
from app.services.indicators.statements import interpolate, ranks
from models.errors import InvalidInputError
from tests.conftest import PARIS


def test_period_bounds_are_paris_midnights() -> None:
    period = parse_period("2026-01-01", "2026-12-31", PARIS)
    assert period.start == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert period.days == 365
    months = period.months()
    assert [label for label, _, _ in months][:3] == ["2026-01", "2026-02", "2026-03"]
    assert len(months) == 12
    # Summer time from 29 March: April starts at 22:00 UTC on 31 March.
    assert months[3][1] == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    assert months[-1][2] == period.end


def test_months_are_clipped_to_the_period() -> None:
    period = parse_period("2026-03-15", "2026-05-10", PARIS)
    months = period.months()
    assert [label for label, _, _ in months] == ["2026-03", "2026-04", "2026-05"]
    assert months[0][1] == period.start
    assert months[-1][2] == period.end
    assert parse_period("2026-02-28", "2026-02-28", PARIS).days == 1


@pytest.mark.parametrize(
    ("first", "last", "field", "needle"),
    [
        ("2026-03-31", "2026-03-01", "to", "inversée"),
        ("2026-13-01", "2026-12-31", "from", "AAAA-MM-JJ"),
        ("2026-3-1", "2026-12-31", "from", "AAAA-MM-JJ"),
        ("2026-01-01", "", "to", "AAAA-MM-JJ"),
        ("2016-01-01", "2026-01-01", "to", "10 ans"),
        ("1999-01-01", "1999-12-31", "from", "2000"),
    ],
)
def test_bad_periods(first: str, last: str, field: str, needle: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_period(first, last, PARIS)
    assert error.value.field == field
    assert needle in str(error.value)


def test_ten_years_is_the_longest_period() -> None:
    assert parse_period("2016-01-01", "2025-12-31", PARIS).days == 3653
    assert parse_period(date(2020, 2, 29), date(2030, 2, 27), PARIS).days > 3600


@pytest.mark.parametrize(
    "values",
    [[7.0], [1.0, 2.0], [1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0], [0.5, 30.0, 2.0, 4.0, 10.0]],
)
def test_interpolation_is_percentile_cont(values: list[float]) -> None:
    ordered = sorted(values)
    wanted = ranks(len(ordered))
    picked = {rank: ordered[rank] for rank in wanted}
    assert interpolate(picked, len(ordered), 0.5) == pytest.approx(statistics.median(ordered))
    # percentile_cont(0.9) is the "inclusive" quantile method.
    if len(ordered) > 1:
        expected = statistics.quantiles(ordered, n=10, method="inclusive")[-1]
        assert interpolate(picked, len(ordered), 0.9) == pytest.approx(expected)
    assert len(wanted) <= 4


@pytest.mark.parametrize(
    ("members", "grant"),
    [
        (0, None),
        (9.99, None),
        (10, 50_000),
        (55, 75_000),
        (99, 99_444),
        (100, 100_000),
        (140, 100_000),
    ],
)
def test_grant_is_linear_between_10_and_100_members(members: float, grant: int | None) -> None:
    assert estimated_grant(members) == grant


def member(since: date | None, until: date | None = None, advanced: bool = False) -> Member:
    return Member(uuid.uuid4(), "Dr", since, until, advanced)


def test_membership_is_prorated_on_the_days_of_the_period() -> None:
    year = parse_period("2025-01-01", "2025-12-31", PARIS)
    members = [member(date(2020, 1, 1)) for _ in range(9)]
    members.append(member(date(2025, 7, 1)))  # 184 days of 365
    members.append(member(date(2024, 1, 1), until=date(2025, 3, 31)))  # 90 days
    members.append(member(None))  # no membership date: not a member
    members.append(member(date(2026, 1, 1)))  # after the period
    found = membership(members, year, territory=100)
    assert found.members_count == 10  # on 31 December
    assert found.members_prorated == round(9 + 184 / 365 + 90 / 365, 2)  # 9.75
    assert found.estimated_annual_grant_eur is None  # 9.75: below the floor of 10
    assert found.coverage_rate == 0.1
    assert [(t.threshold, t.reached, t.members_needed) for t in found.coverage_thresholds] == [
        (0.1, True, 10),
        (0.3, False, 30),
        (0.5, False, 50),
    ]
    twenty = [member(date(2020, 1, 1)) for _ in range(20)]
    assert membership(twenty, year, territory=None).coverage_thresholds == []
    assert membership(twenty, year, territory=None).estimated_annual_grant_eur == 55_556


def test_french_display() -> None:
    assert display(17.18183, "heures") == "17,2"
    assert display(0.9024, "%") == "90,2"
    assert display(4.0, "/ 5") == "4,00"
    assert display(3.01, "médecins") == "3,01"
    assert display(1000000, "nombre") == "1000000"
    assert display(None, "heures") == ""
    assert display(True, "") == "oui"
    assert month_label("2025-08") == "août 2025"
