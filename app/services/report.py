"""The ESS activity report: the indicators with French labels and how each is computed.

``build_report`` turns ``Indicators`` into a plain document (sections of indicators,
breakdown tables, notes); ``render_json`` and ``render_csv`` write it. The CSV is meant
to open cleanly in a French spreadsheet: UTF-8 with a byte-order mark, ``;`` between
cells, a decimal comma, dates as ``JJ/MM/AAAA``, empty cells where nothing applies.
"""

import csv
import io
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.services.indicators import (
    COVERAGE_THRESHOLDS,
    GRANT_MAX_EUR,
    GRANT_MAX_MEMBERS,
    GRANT_MIN_EUR,
    GRANT_MIN_MEMBERS,
    DelayStats,
    GroupIndicators,
    Indicators,
)

FORMATS = ("csv", "json")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
PRIORITIES = {"urgent": "Urgente", "standard": "Standard"}

# Units: how a value is written (and, for rates, that it is a proportion from 0 to 1).
COUNT, HOURS, DAYS, RATE, SCORE, EUROS, MEMBERS, TEXT = (
    "nombre",
    "heures",
    "jours",
    "%",
    "/ 5",
    "€",
    "médecins",
    "",
)


def _french_number(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def display(value: Any, unit: str) -> str:
    """A value as a French reader (and a French spreadsheet) expects it; empty if none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if unit == RATE:
        return _french_number(value * 100, 1)
    if unit in (HOURS, DAYS):
        return _french_number(value, 1)
    if unit == SCORE:
        return _french_number(value, 2)
    if unit == MEMBERS and isinstance(value, float):
        return _french_number(value, 2)
    if isinstance(value, float):
        return _french_number(value, 2)
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return str(value)


def _euros(amount: int) -> str:
    return f"{amount:,}".replace(",", "\u00a0") + "\u00a0€"


def month_label(month: str) -> str:
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def human(value: Any, unit: str) -> str:
    """``display`` for a reader: thousands grouped, the unit after (not for spreadsheets)."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}".replace(",", "\u202f")
    else:
        text = display(value, unit)
    if value is None or unit in (COUNT, TEXT):
        return text
    return f"{text}\u00a0{unit}"


def _line(key: str, label: str, value: Any, unit: str, note: str) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "value": value,
        "unit": unit,
        "display": human(value, unit),
        "note": note,
    }


def _delay_lines(
    key: str, label: str, stats: DelayStats, unit: str, how: str
) -> list[dict[str, Any]]:
    on = f" Calculé sur {stats.count} demande(s)." if stats.count else " Aucune donnée."
    return [
        _line(
            f"{key}.median",
            f"{label} – médiane",
            stats.median,
            unit,
            how + " Médiane interpolée linéairement (percentile_cont)." + on,
        ),
        _line(
            f"{key}.p90",
            f"{label} – 90e centile",
            stats.p90,
            unit,
            how
            + " 90 % des demandes ont un délai inférieur ou égal (interpolation linéaire)."
            + on,
        ),
        _line(f"{key}.mean", f"{label} – moyenne", stats.mean, unit, how + on),
    ]


CALENDAR_TIME = (
    "En temps calendaire (nuits, week-ends, jours fériés et attente d'informations compris)."
)


def _sections(ind: Indicators) -> list[dict[str, Any]]:
    unkeyed = ind.requests_without_patient_key
    membership = ind.membership
    national = [
        _line(
            "teleexpertise_count",
            "Nombre de téléexpertises",
            ind.teleexpertise_count,
            COUNT,
            "Demandes soumises pendant la période (date de soumission, heure de Paris), "
            "quel que soit leur devenir, annulées comprises.",
        ),
        _line(
            "answered_count",
            "Téléexpertises ayant reçu une réponse",
            ind.answered_count,
            COUNT,
            "Demandes de la période auxquelles un spécialiste a répondu à la date du rapport.",
        ),
        _line(
            "cancelled_count",
            "Demandes annulées",
            ind.cancelled_count,
            COUNT,
            "Annulées par le demandeur avant la réponse : comptées comme soumises, exclues "
            "des délais.",
        ),
        _line(
            "open_count",
            "Demandes en cours",
            ind.open_count,
            COUNT,
            "Ni répondues ni annulées à la date du rapport (en attente d'attribution, "
            "attribuées, acceptées ou en attente d'informations).",
        ),
        _line(
            "requesters_count",
            "Professionnels ayant adressé des patients à l'ESS",
            ind.requesters_count,
            COUNT,
            "Demandeurs distincts ayant soumis au moins une demande pendant la période.",
        ),
        _line(
            "treating_physicians_count",
            "dont médecins traitants",
            ind.treating_physicians_count,
            COUNT,
            "Parmi ces demandeurs, ceux dont le compte est déclaré médecin traitant "
            "(profil à la date du rapport).",
        ),
        _line(
            "patients_count",
            "Patients pris en charge via l'ESS",
            ind.patients_count,
            COUNT,
            "Patients distincts des demandes de la période, reconnus par l'empreinte à clé "
            "(HMAC) de leur identité normalisée, sans jamais déchiffrer une identité."
            + (f" {unkeyed} demande(s) sans empreinte ne sont pas comptées." if unkeyed else ""),
        ),
        _line(
            "advanced_consultation_specialists_count",
            "Médecins de l'ESS proposant des consultations avancées",
            ind.advanced_consultation_specialists_count,
            COUNT,
            "Spécialistes membres au moins un jour de la période dont le profil indique "
            "qu'ils proposent des consultations avancées (profil à la date du rapport).",
        ),
        _line(
            "advanced_consultations_count",
            "Consultations avancées réalisées",
            ind.advanced_consultations_count,
            COUNT,
            "Réponses aux demandes de la période concluant à une consultation avancée, avec "
            "une date de rendez-vous (rendez-vous à venir compris).",
        ),
    ]
    delays = [
        *_delay_lines(
            "response_delay_hours",
            "Délai de réponse à la téléexpertise",
            ind.response_delay_hours,
            HOURS,
            "De la soumission à la réponse, sur les demandes répondues de la période "
            "(annulées exclues). " + CALENDAR_TIME,
        ),
        _line(
            "within_sla_rate",
            "Réponses dans le délai",
            ind.within_sla_rate,
            RATE,
            "Part des réponses arrivées au plus tard à leur échéance, calculée selon le "
            "calendrier du service (heures ouvrées et jours fériés avec le calendrier "
            "« business », échéance suspendue pendant l'attente d'informations).",
        ),
        *_delay_lines(
            "acknowledge_delay_hours",
            "Délai de prise en charge",
            ind.acknowledge_delay_hours,
            HOURS,
            "De la soumission à l'acceptation par le spécialiste qui détient la demande "
            "(une question au demandeur ou une réponse directe valent acceptation), "
            "réattributions comprises ; demandes annulées exclues. " + CALENDAR_TIME,
        ),
        *_delay_lines(
            "appointment_delay_days",
            "Délai d'obtention d'un rendez-vous",
            ind.appointment_delay_days,
            DAYS,
            "De la réponse à la date du rendez-vous qu'elle indique, pour les réponses "
            "concluant à une consultation ou à une consultation avancée avec une date.",
        ),
    ]
    quality = [
        _line(
            "usefulness_mean",
            "Utilité de la réponse (moyenne)",
            ind.usefulness_mean,
            SCORE,
            "Note de 1 à 5 donnée par le demandeur à la clôture de la demande, moyenne sur "
            "les demandes clôturées de la période.",
        ),
        _line(
            "referral_avoided_rate",
            "Adressages évités",
            ind.referral_avoided_rate,
            RATE,
            "Part des clôtures où le demandeur indique que la téléexpertise a évité un "
            "adressage du patient.",
        ),
        _line(
            "feedback_count",
            "Questionnaires de clôture reçus",
            ind.feedback_count,
            COUNT,
            "Demandes de la période clôturées par le demandeur avec son avis.",
        ),
    ]
    members = [
        _line(
            "membership.members_count",
            "Médecins membres au dernier jour de la période",
            membership.members_count,
            MEMBERS,
            "Spécialistes dont les dates d'adhésion (profil) couvrent le dernier jour de "
            "la période.",
        ),
        _line(
            "membership.members_prorated",
            "Médecins membres, proratisés sur la période",
            membership.members_prorated,
            MEMBERS,
            "Somme des jours d'adhésion de chaque spécialiste pendant la période, divisée "
            "par le nombre de jours de la période : sur une année civile, le nombre exact "
            "de médecins sur l'année, sur lequel la dotation est proratisée.",
        ),
        _line(
            "membership.estimated_annual_grant_eur",
            "Dotation annuelle estimée",
            membership.estimated_annual_grant_eur,
            EUROS,
            f"{_euros(GRANT_MIN_EUR)} pour {GRANT_MIN_MEMBERS} médecins, "
            f"{_euros(GRANT_MAX_EUR)} pour {GRANT_MAX_MEMBERS} et plus, appliqué au nombre "
            "proratisé. Entre les deux, l'interpolation est linéaire : c'est une hypothèse, "
            "les textes ne donnant pas de formule. Non estimée en dessous de "
            f"{GRANT_MIN_MEMBERS} médecins (seuil de création d'une ESS).",
        ),
        _line(
            "membership.territory_specialists",
            "Spécialistes libéraux de la spécialité sur le territoire",
            membership.territory_specialists,
            COUNT,
            "Réglage ESS_REPORT__TERRITORY_SPECIALISTS ; vide s'il n'est pas renseigné.",
        ),
        _line(
            "membership.coverage_rate",
            "Couverture du territoire",
            membership.coverage_rate,
            RATE,
            "Médecins membres au dernier jour de la période rapportés aux spécialistes "
            "libéraux de la spécialité sur le territoire.",
        ),
    ]
    purposes = {0.10: "création de l'ESS", 0.30: "objectif", 0.50: "objectif à cinq ans"}
    for threshold in membership.coverage_thresholds:
        percent = round(threshold.threshold * 100)
        members.append(
            _line(
                f"membership.coverage_{percent}",
                f"Seuil de {percent} % ({purposes.get(threshold.threshold, 'seuil')})",
                threshold.reached,
                TEXT,
                f"Atteint à partir de {threshold.members_needed} médecins membres.",
            )
        )
    if not membership.coverage_thresholds:
        members.append(
            _line(
                "membership.coverage_thresholds",
                "Seuils de couverture ("
                + ", ".join(f"{round(t * 100)} %" for t in COVERAGE_THRESHOLDS)
                + ")",
                None,
                TEXT,
                "Non évalués : le nombre de spécialistes du territoire n'est pas renseigné.",
            )
        )
    return [
        {"key": "national", "title": "Indicateurs nationaux", "indicators": national},
        {"key": "delays", "title": "Délais", "indicators": delays},
        {
            "key": "quality",
            "title": "Indicateur qualitatif (questionnaire de clôture)",
            "indicators": quality,
        },
        {"key": "membership", "title": "Adhésion et dotation", "indicators": members},
    ]


GROUP_COLUMNS: list[tuple[str, str, str]] = [
    ("teleexpertise_count", "Téléexpertises", COUNT),
    ("answered_count", "Répondues", COUNT),
    ("cancelled_count", "Annulées", COUNT),
    ("response_delay_mean_hours", "Délai moyen de réponse (heures)", HOURS),
    ("within_sla_rate", "Réponses dans le délai (%)", RATE),
    ("acknowledge_delay_mean_hours", "Délai moyen de prise en charge (heures)", HOURS),
    ("appointment_delay_mean_days", "Délai moyen de rendez-vous (jours)", DAYS),
    ("advanced_consultations_count", "Consultations avancées", COUNT),
    ("usefulness_mean", "Utilité moyenne (sur 5)", SCORE),
    ("referral_avoided_rate", "Adressages évités (%)", RATE),
]
BREAKDOWN_NOTE = (
    "Mêmes définitions que les indicateurs d'ensemble ; par groupe, les délais sont des "
    "moyennes (médiane et 90e centile : demander le rapport de la période voulue, "
    "par exemple d'un mois)."
)


def _table(
    key: str,
    title: str,
    heading: str,
    rows: list[GroupIndicators],
    label: Callable[[Any], str],
    note: str,
) -> dict[str, Any]:
    return {
        "key": key,
        "title": title,
        "note": note,
        "columns": [{"key": "label", "label": heading, "unit": TEXT}]
        + [{"key": k, "label": name, "unit": unit} for k, name, unit in GROUP_COLUMNS],
        "rows": [
            {"label": label(row), **{k: getattr(row, k) for k, _, _ in GROUP_COLUMNS}}
            for row in rows
        ],
    }


def _breakdowns(ind: Indicators) -> list[dict[str, Any]]:
    return [
        _table(
            "by_month",
            "Par mois de soumission",
            "Mois",
            list(ind.by_month),
            lambda r: month_label(r.month),
            "Mois de la date de soumission, heure de Paris. " + BREAKDOWN_NOTE,
        ),
        _table(
            "by_subspecialty",
            "Par sur-spécialité demandée",
            "Sur-spécialité",
            list(ind.by_subspecialty),
            lambda r: r.name,
            BREAKDOWN_NOTE,
        ),
        _table(
            "by_specialist",
            "Par spécialiste",
            "Spécialiste",
            list(ind.by_specialist),
            lambda r: r.name + ("" if r.member or r.specialist_id is None else " (non membre)"),
            "Spécialiste qui détient ou a traité la demande ; « Non attribuée » : demandes "
            "restées sans spécialiste. Tous les membres de la période figurent, même sans "
            "demande. " + BREAKDOWN_NOTE,
        ),
        _table(
            "by_priority",
            "Par priorité",
            "Priorité",
            list(ind.by_priority),
            lambda r: PRIORITIES.get(str(r.priority), str(r.priority)),
            BREAKDOWN_NOTE,
        ),
    ]


def build_report(ind: Indicators, *, ess_name: str) -> dict[str, Any]:
    """The activity report as a plain document (JSON-ready)."""
    first, last = ind.period["from"], ind.period["to"]
    generated = ind.generated_at.astimezone(ZoneInfo(ind.timezone))
    return {
        "report": "activity",
        "title": f"Rapport d'activité – {ess_name}",
        "ess_name": ess_name,
        "period": {"from": first.isoformat(), "to": last.isoformat()},
        "period_label": f"du {first:%d/%m/%Y} au {last:%d/%m/%Y}",
        "timezone": ind.timezone,
        "generated_at": generated.isoformat(),
        "sections": _sections(ind),
        "breakdowns": _breakdowns(ind),
        "notes": [
            f"Période : demandes soumises du {first:%d/%m/%Y} à 00:00 au {last:%d/%m/%Y} "
            f"à 24:00, heure légale de Paris ({ind.timezone}).",
            "Chiffres à la date de génération du rapport : une demande encore en cours "
            "peut recevoir sa réponse plus tard et changer les délais de la période.",
            "Délais en temps calendaire, sauf la part des réponses dans le délai, calculée "
            "selon le calendrier du service.",
            "Taux exprimés en pourcentage dans le tableur, en proportion (de 0 à 1) dans "
            "le JSON ; case vide : indicateur sans objet (aucune donnée).",
        ],
    }


def render_json(report: dict[str, Any]) -> bytes:
    return (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def render_csv(report: dict[str, Any]) -> bytes:
    """One sheet: the indicators, then each breakdown, then the notes (``;``, BOM)."""
    buffer = io.StringIO()
    out = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    out.writerow([report["title"]])
    out.writerow(["Période", report["period_label"]])
    out.writerow(["Fuseau horaire", report["timezone"]])
    generated = datetime.fromisoformat(report["generated_at"])
    out.writerow(["Généré le", f"{generated:%d/%m/%Y %H:%M}"])
    out.writerow([])
    out.writerow(["Rubrique", "Indicateur", "Valeur", "Unité", "Mode de calcul"])
    for section in report["sections"]:
        for line in section["indicators"]:
            out.writerow(
                [
                    section["title"],
                    line["label"],
                    display(line["value"], line["unit"]),
                    line["unit"],
                    line["note"],
                ]
            )
    for table in report["breakdowns"]:
        out.writerow([])
        out.writerow([table["title"]])
        out.writerow([column["label"] for column in table["columns"]])
        for row in table["rows"]:
            out.writerow(
                [display(row[column["key"]], column["unit"]) for column in table["columns"]]
            )
        out.writerow(["Note", table["note"]])
    out.writerow([])
    for note in report["notes"]:
        out.writerow(["Note", note])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def render(report: dict[str, Any], report_format: str) -> bytes:
    if report_format == "csv":
        return render_csv(report)
    return render_json(report)


def filename(report: dict[str, Any], report_format: str) -> str:
    period = report["period"]
    return f"rapport-activite_{period['from']}_{period['to']}.{report_format}"


def media_type(report_format: str) -> str:
    # Litestar adds "; charset=utf-8" to text types itself.
    return "text/csv" if report_format == "csv" else "application/json"
