"""Exact figures on rows inserted directly (exact instants), read back over HTTP.

The same hand-computed values must come out of PostgreSQL's ``percentile_cont`` and of
SQLite's window-function equivalent.
"""

from datetime import UTC, datetime, timedelta

from tests.conftest import Ess
from tests.factories import indicators, insert, paris

HOURS = (1, 1, 2, 3, 5, 8, 13, 21, 34, 55)


async def test_percentiles_ties_boundaries_and_daylight_saving(client, ess: Ess) -> None:
    base = paris(2026, 3, 10, 10, 0)
    specialist = ess.specialists[0].id
    # Ten answered requests; answer delays in HOURS; due 24 h after submission (two late);
    # taken on after 30 minutes; four close-out answers; two requests for one patient.
    feedback = [(5, True), (4, True), (4, False), (3, True)]
    for index, hours in enumerate(HOURS):
        usefulness, avoided = feedback[index] if index < len(feedback) else (None, None)
        await insert(
            ess,
            submitted_at=base,
            status="closed" if usefulness else "answered",
            assignee_id=specialist,
            accepted_at=base + timedelta(minutes=30),
            answered_at=base + timedelta(hours=hours),
            answer_due_at=base + timedelta(hours=24),
            outcome="advice",
            usefulness=usefulness,
            referral_avoided=avoided,
            patient_key="a" * 64 if index < 2 else None if index == 9 else f"{index:064d}",
        )
    # Cancelled after being accepted: counted as submitted, in no delay.
    await insert(
        ess,
        submitted_at=base,
        status="cancelled",
        assignee_id=specialist,
        accepted_at=base + timedelta(hours=1),
        cancelled_at=base + timedelta(hours=2),
    )
    # The period's bounds, in Paris time: 1 March 00:00 is in, 1 May 00:00 is out.
    await insert(ess, submitted_at=paris(2026, 3, 1, 0, 0), status="pending")
    await insert(ess, submitted_at=paris(2026, 3, 1) - timedelta(microseconds=1), status="pending")
    await insert(ess, submitted_at=paris(2026, 5, 1, 0, 0), status="pending")
    # Around the end of March, after the change to summer time (UTC+2):
    # 31 March 23:30 in Paris is 21:30 UTC (March); 1 April 00:15 is 22:15 UTC on 31 March.
    await insert(ess, submitted_at=datetime(2026, 3, 31, 21, 30, tzinfo=UTC), status="pending")
    await insert(ess, submitted_at=datetime(2026, 3, 31, 22, 15, tzinfo=UTC), status="pending")

    found = await indicators(client, ess, "2026-03-01", "2026-04-30")
    assert found["teleexpertise_count"] == 14  # 10 answered, 1 cancelled, 3 pending
    assert found["answered_count"] == 10
    assert (found["cancelled_count"], found["open_count"]) == (1, 3)
    # 1, 1, 2, 3, 5, 8, 13, 21, 34, 55: median (5 + 8) / 2; p90 at rank 8.1: 34 + 0.1 x 21.
    assert found["response_delay_hours"] == {
        "median": 6.5,
        "p90": 36.1,
        "mean": 14.3,
        "count": 10,
    }
    assert found["within_sla_rate"] == 0.8
    assert found["acknowledge_delay_hours"] == {
        "median": 0.5,
        "p90": 0.5,
        "mean": 0.5,
        "count": 10,
    }
    assert found["usefulness_mean"] == 4.0
    assert found["referral_avoided_rate"] == 0.75
    assert found["feedback_count"] == 4
    # Keys: "a…" twice, eight others; one request has none.
    assert found["requests_without_patient_key"] == 1
    # "a…" once, seven others, and the cancelled and three pending requests' own keys.
    assert found["patients_count"] == 1 + 7 + 1 + 3
    months = {m["month"]: m["teleexpertise_count"] for m in found["by_month"]}
    assert months == {"2026-03": 13, "2026-04": 1}
    [specialist_row] = [s for s in found["by_specialist"] if s["teleexpertise_count"]][:1]
    assert specialist_row["specialist_id"] == str(specialist)
    unassigned = [s for s in found["by_specialist"] if s["specialist_id"] is None]
    assert unassigned[0]["name"] == "Non attribuée"
    assert unassigned[0]["teleexpertise_count"] == 3


async def test_appointments_and_consultations_avancees(client, ess: Ess) -> None:
    base = paris(2026, 3, 10, 10, 0)
    answered = base + timedelta(hours=2)
    common = {"submitted_at": base, "status": "answered", "answered_at": answered}
    await insert(ess, outcome="consultation", appointment_at=answered + timedelta(days=3), **common)
    await insert(
        ess,
        outcome="advanced_consultation",
        appointment_at=answered + timedelta(days=7, hours=12),
        **common,
    )
    # Without a date: neither in the delay nor a consultation avancée held.
    await insert(ess, outcome="advanced_consultation", **common)
    # A hospital referral with a date is not a consultation.
    await insert(
        ess, outcome="hospital_referral", appointment_at=answered + timedelta(days=1), **common
    )
    found = await indicators(client, ess, "2026-03-01", "2026-03-31")
    # 3 and 7.5 days: median 5.25, p90 3 + 0.9 x 4.5 = 7.05, mean 5.25.
    assert found["appointment_delay_days"] == {
        "median": 5.25,
        "p90": 7.05,
        "mean": 5.25,
        "count": 2,
    }
    assert found["advanced_consultations_count"] == 1
    assert found["by_month"][0]["appointment_delay_mean_days"] == 5.25
    assert found["by_month"][0]["advanced_consultations_count"] == 1


async def test_ten_year_periods_and_many_months(client, ess: Ess) -> None:
    await insert(ess, submitted_at=paris(2017, 6, 15, 12, 0), status="pending")
    await insert(ess, submitted_at=paris(2026, 12, 31, 23, 59), status="pending")
    found = await indicators(client, ess, "2017-01-01", "2026-12-31")
    assert found["teleexpertise_count"] == 2
    assert len(found["by_month"]) == 120
    counted = {
        m["month"]: m["teleexpertise_count"] for m in found["by_month"] if m["teleexpertise_count"]
    }
    assert counted == {"2017-06": 1, "2026-12": 1}
