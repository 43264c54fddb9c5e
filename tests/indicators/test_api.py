"""The coordinator's indicators over HTTP, driven through the API with the frozen clock.

Every expected value is computed by hand in the comments, on SQLite and on PostgreSQL.
The clock starts on Monday 2 March 2026 at 09:00, Paris time (business calendar: a
standard request is due on Wednesday at 13:00, an urgent one the same day at 17:00).
"""

from datetime import date, timedelta

import pytest

from config.settings import ReportSettings
from tests.conftest import Ess
from tests.factories import act, indicators, message, paris, patient_keys, submit

MARCH = ("2026-03-01", "2026-03-31")


def by(rows: list[dict], key: str) -> dict:
    return {row[key]: row for row in rows}


async def test_empty_period(client, ess: Ess) -> None:
    found = await indicators(client, ess, "2026-02-01", "2026-02-28")
    assert found["period"] == {"from": "2026-02-01", "to": "2026-02-28"}
    assert found["timezone"] == "Europe/Paris"
    for name in (
        "teleexpertise_count",
        "answered_count",
        "cancelled_count",
        "open_count",
        "patients_count",
        "requesters_count",
        "treating_physicians_count",
        "feedback_count",
        "advanced_consultations_count",
        "advanced_consultation_specialists_count",
    ):
        assert found[name] == 0, name
    for name in ("response_delay_hours", "acknowledge_delay_hours", "appointment_delay_days"):
        assert found[name] == {"median": None, "p90": None, "mean": None, "count": 0}
    for name in ("within_sla_rate", "usefulness_mean", "referral_avoided_rate"):
        assert found[name] is None
    # Every month of the period and both priorities are listed, with zeros.
    assert [m["month"] for m in found["by_month"]] == ["2026-02"]
    assert found["by_month"][0]["teleexpertise_count"] == 0
    assert found["by_month"][0]["response_delay_mean_hours"] is None
    assert [p["priority"] for p in found["by_priority"]] == ["urgent", "standard"]
    assert {s["subspecialty"] for s in found["by_subspecialty"]} == {"rythmologie", "hta"}
    # The specialists joined on 2 March: nobody was a member in February.
    assert found["by_specialist"] == []
    assert found["membership"]["members_count"] == 0
    assert found["membership"]["members_prorated"] == 0
    assert found["membership"]["estimated_annual_grant_eur"] is None


async def test_one_request_through_its_whole_life(client, ess: Ess, clock) -> None:
    request = await submit(client, ess)  # Monday 09:00, standard, rythmologie
    clock.set(paris(2026, 3, 2, 10, 30))
    await act(client, ess, request, "accept")  # taken on after 1.5 h
    clock.set(paris(2026, 3, 2, 15, 0))
    await act(  # answered after 6 h, due on Wednesday 13:00: within the deadline
        client,
        ess,
        request,
        "answer",
        answer="Consultation de rythmologie.",
        outcome="consultation",
        appointment_at=paris(2026, 3, 12, 15, 0).isoformat(),  # 10 days after the answer
    )
    clock.set(paris(2026, 3, 3, 9, 0))
    await act(client, ess, request, "close", usefulness=4, referral_avoided=False)

    found = await indicators(client, ess, *MARCH)
    assert found["teleexpertise_count"] == 1
    assert found["answered_count"] == 1
    assert (found["cancelled_count"], found["open_count"]) == (0, 0)
    assert (found["requesters_count"], found["treating_physicians_count"]) == (1, 1)
    assert found["response_delay_hours"] == {"median": 6.0, "p90": 6.0, "mean": 6.0, "count": 1}
    assert found["within_sla_rate"] == 1.0
    assert found["acknowledge_delay_hours"] == {
        "median": 1.5,
        "p90": 1.5,
        "mean": 1.5,
        "count": 1,
    }
    assert found["appointment_delay_days"] == {
        "median": 10.0,
        "p90": 10.0,
        "mean": 10.0,
        "count": 1,
    }
    assert (found["usefulness_mean"], found["referral_avoided_rate"]) == (4.0, 0.0)
    assert found["feedback_count"] == 1
    assert found["advanced_consultations_count"] == 0
    if None not in await patient_keys(ess):
        assert found["patients_count"] == 1
    assert found["requests_without_patient_key"] in (0, 1)

    [march] = found["by_month"]
    assert march["month"] == "2026-03"
    assert (march["teleexpertise_count"], march["answered_count"]) == (1, 1)
    assert march["response_delay_mean_hours"] == 6.0
    assert march["within_sla_rate"] == 1.0
    assert march["acknowledge_delay_mean_hours"] == 1.5
    assert march["appointment_delay_mean_days"] == 10.0
    assert march["usefulness_mean"] == 4.0
    priorities = by(found["by_priority"], "priority")
    assert priorities["standard"]["teleexpertise_count"] == 1
    assert priorities["urgent"]["teleexpertise_count"] == 0
    subs = by(found["by_subspecialty"], "subspecialty")
    assert subs["rythmologie"]["answered_count"] == 1
    assert subs["rythmologie"]["name"] == "Rythmologie"
    assert subs["hta"]["teleexpertise_count"] == 0
    # Every member is listed; only the one who answered has a request.
    specialists = by(found["by_specialist"], "specialist_id")
    assert set(specialists) == {str(s.id) for s in ess.specialists}
    assert specialists[request["assignee_id"]]["answered_count"] == 1
    assert sum(s["teleexpertise_count"] for s in specialists.values()) == 1
    assert all(s["member"] for s in specialists.values())


async def test_delays_pause_cancellation_and_open_requests(client, ess: Ess, clock) -> None:
    """Seven requests submitted on Monday at 09:00; delays in calendar hours.

    r1-r3 standard and r4 urgent, answered without accepting first (so taken on when
    answered) after 1, 2, 4 and 10 hours: r4 misses its 17:00 deadline. r5 (urgent) is
    accepted at 10:00, paused awaiting information at 11:00 with 6 business hours left,
    resumed on Tuesday at 10:00 (due 16:00) and answered at 15:00: 30 calendar hours,
    within the deadline. r6 is cancelled at 09:30. r7 is still awaiting information,
    taken on at 09:30 by the specialist's question.

    Answer delays 1, 2, 4, 10, 30: median 4; p90 at rank 0.9 x 4 = 3.6, 10 + 0.6 x 20 = 22;
    mean 47 / 5 = 9.4; within the deadline 4 / 5. Taken-on delays 1, 2, 4, 10, 1, 0.5
    (sorted 0.5, 1, 1, 2, 4, 10): median 1.5; p90 at 4.5, 4 + 0.5 x 6 = 7; mean 18.5 / 6.
    """
    subs = ["rythmologie", "hta", "rythmologie", "hta", "rythmologie", "hta", "rythmologie"]
    priorities = ["standard"] * 3 + ["urgent", "urgent", "standard", "standard"]
    requests = [
        await submit(client, ess, requester=i % 2, subspecialty=sub, priority=priority)
        for i, (sub, priority) in enumerate(zip(subs, priorities, strict=True))
    ]
    r1, r2, r3, r4, r5, r6, r7 = requests
    assert all(r["assignee_id"] for r in requests), "every request has a specialist"

    clock.set(paris(2026, 3, 2, 9, 30))
    await act(client, ess, r6, "cancel")
    await message(client, ess, r7, from_specialist=True)
    clock.set(paris(2026, 3, 2, 10, 0))
    await act(client, ess, r1, "answer", answer="Avis.", outcome="advice")
    await act(client, ess, r5, "accept")
    clock.set(paris(2026, 3, 2, 11, 0))
    await act(client, ess, r2, "answer", answer="Avis.", outcome="advice")
    await message(client, ess, r5, from_specialist=True)
    clock.set(paris(2026, 3, 2, 13, 0))
    await act(client, ess, r3, "answer", answer="Avis.", outcome="hospital_referral")
    clock.set(paris(2026, 3, 2, 19, 0))
    await act(client, ess, r4, "answer", answer="Avis.", outcome="advice")
    clock.set(paris(2026, 3, 3, 10, 0))
    await message(client, ess, r5, from_specialist=False)  # resumes: due Tuesday 16:00
    clock.set(paris(2026, 3, 3, 15, 0))
    await act(client, ess, r5, "answer", answer="Avis.", outcome="advice")

    found = await indicators(client, ess, *MARCH)
    assert found["teleexpertise_count"] == 7
    assert found["answered_count"] == 5
    assert found["cancelled_count"] == 1
    assert found["open_count"] == 1
    assert found["response_delay_hours"] == {"median": 4.0, "p90": 22.0, "mean": 9.4, "count": 5}
    assert found["within_sla_rate"] == 0.8
    assert found["acknowledge_delay_hours"] == {
        "median": 1.5,
        "p90": 7.0,
        "mean": round(18.5 / 6, 3),
        "count": 6,
    }
    # No answer led to a consultation with an appointment.
    assert found["appointment_delay_days"]["count"] == 0
    assert (found["requesters_count"], found["treating_physicians_count"]) == (2, 1)

    priorities_found = by(found["by_priority"], "priority")
    urgent, standard = priorities_found["urgent"], priorities_found["standard"]
    assert (urgent["teleexpertise_count"], urgent["answered_count"]) == (2, 2)
    assert urgent["response_delay_mean_hours"] == 20.0  # (10 + 30) / 2
    assert urgent["within_sla_rate"] == 0.5  # r4 late, r5 on time
    assert (standard["teleexpertise_count"], standard["cancelled_count"]) == (5, 1)
    assert standard["response_delay_mean_hours"] == round(7 / 3, 3)  # (1 + 2 + 4) / 3
    assert standard["within_sla_rate"] == 1.0
    subs_found = by(found["by_subspecialty"], "subspecialty")
    assert subs_found["rythmologie"]["teleexpertise_count"] == 4
    assert subs_found["rythmologie"]["response_delay_mean_hours"] == round(35 / 3, 3)
    assert subs_found["hta"]["teleexpertise_count"] == 3
    assert subs_found["hta"]["response_delay_mean_hours"] == 6.0  # (2 + 10) / 2
    assert sum(s["teleexpertise_count"] for s in found["by_specialist"]) == 7


async def test_consultations_avancees_and_appointments(client, ess: Ess, clock) -> None:
    advanced = await ess.add_user(
        role="specialist",
        email="avancee@ess-test.fr",
        name="Dr Avancée",
        specialty="cardiologie",
        subspecialties=["hta"],
        capacity=3,
        advanced_consultations=True,
    )
    ess.specialists.append(advanced)
    first = await submit(client, ess, subspecialty="rythmologie")
    second = await submit(client, ess, subspecialty="rythmologie")
    third = await submit(client, ess, subspecialty="rythmologie")
    clock.set(paris(2026, 3, 2, 12, 0))
    # An advanced consultation 4 days after the answer, a consultation 10 days after,
    # a hospital referral with a date (not a consultation: not in the delay).
    for request, outcome, days in (
        (first, "advanced_consultation", 4),
        (second, "consultation", 10),
        (third, "hospital_referral", 2),
    ):
        await act(
            client,
            ess,
            request,
            "answer",
            answer="Avis.",
            outcome=outcome,
            appointment_at=(clock.now() + timedelta(days=days)).isoformat(),
        )
    found = await indicators(client, ess, *MARCH)
    assert found["advanced_consultations_count"] == 1
    assert found["advanced_consultation_specialists_count"] == 1
    # Delays 4 and 10 days: median 7, p90 4 + 0.9 x 6 = 9.4, mean 7.
    assert found["appointment_delay_days"] == {"median": 7.0, "p90": 9.4, "mean": 7.0, "count": 2}


async def test_request_at_23_30_on_31_december_belongs_to_the_old_year(
    client, ess: Ess, clock
) -> None:
    clock.set(paris(2025, 12, 31, 23, 30))  # 22:30 UTC: still 2025 in Paris
    await submit(client, ess)
    clock.set(paris(2026, 1, 1, 0, 30))  # 23:30 UTC on 31 December: 2026 in Paris
    await submit(client, ess, priority="urgent")

    december = await indicators(client, ess, "2025-12-01", "2025-12-31")
    assert december["teleexpertise_count"] == 1
    assert [(m["month"], m["teleexpertise_count"]) for m in december["by_month"]] == [
        ("2025-12", 1)
    ]
    assert by(december["by_priority"], "priority")["standard"]["teleexpertise_count"] == 1
    january = await indicators(client, ess, "2026-01-01", "2026-01-31")
    assert january["teleexpertise_count"] == 1
    assert by(january["by_priority"], "priority")["urgent"]["teleexpertise_count"] == 1
    both = await indicators(client, ess, "2025-12-31", "2026-01-01")
    assert [(m["month"], m["teleexpertise_count"]) for m in both["by_month"]] == [
        ("2025-12", 1),
        ("2026-01", 1),
    ]
    year_2025 = await indicators(client, ess, "2025-01-01", "2025-12-31")
    assert year_2025["teleexpertise_count"] == 1
    assert len(year_2025["by_month"]) == 12


async def test_specialist_who_joined_mid_year(client, ess: Ess) -> None:
    ess.context.settings.report = ReportSettings(territory_specialists=40)
    await ess.add_user(
        role="specialist",
        email="juillet@ess-test.fr",
        name="Dr Juillet",
        specialty="cardiologie",
        subspecialties=["hta"],
        member_since=date(2026, 7, 1),
        advanced_consultations=True,
    )
    # The three others joined on 2 March 2026: 305 days of 2026 each; July to December
    # is 184 days: (3 x 305 + 184) / 365 = 3.011 members over the year.
    year = await indicators(client, ess, "2026-01-01", "2026-12-31")
    membership = year["membership"]
    assert membership["members_count"] == 4
    assert membership["members_prorated"] == 3.01
    assert membership["estimated_annual_grant_eur"] is None  # fewer than 10
    assert membership["territory_specialists"] == 40
    assert membership["coverage_rate"] == 0.1
    assert membership["coverage_thresholds"] == [
        {"threshold": 0.1, "reached": True, "members_needed": 4},
        {"threshold": 0.3, "reached": False, "members_needed": 12},
        {"threshold": 0.5, "reached": False, "members_needed": 20},
    ]
    assert year["advanced_consultation_specialists_count"] == 1
    assert "Dr Juillet" in {s["name"] for s in year["by_specialist"]}
    # First half: 2 March to 30 June is 121 of 181 days, and July's member is not in it.
    half = await indicators(client, ess, "2026-01-01", "2026-06-30")
    assert half["membership"]["members_count"] == 3
    assert half["membership"]["members_prorated"] == round(3 * 121 / 181, 2)
    assert half["advanced_consultation_specialists_count"] == 0
    assert "Dr Juillet" not in {s["name"] for s in half["by_specialist"]}


async def test_distinct_patients_through_the_keyed_hash(client, ess: Ess) -> None:
    await submit(client, ess)
    await submit(client, ess, requester=1)  # the same patient, another requester
    other = {
        "first_name": "Paul",
        "last_name": "Martin",
        "birth_date": "1948-11-02",
        "sex": "M",
    }
    await submit(client, ess, patient=other)
    keys = await patient_keys(ess)
    if None in keys:
        pytest.skip("the submission service does not fill patient_key yet")
    found = await indicators(client, ess, *MARCH)
    assert found["teleexpertise_count"] == 3
    assert found["patients_count"] == 2
    assert found["requests_without_patient_key"] == 0
    assert (found["requesters_count"], found["treating_physicians_count"]) == (2, 1)
