"""The activity report's words, as data: sections, their lines, the breakdowns, the notes.

Each ``Figure`` names the ``Indicators`` attribute it shows by its key (dotted for the
membership), so adding a line is adding a spec here; ``app.services.indicators.report``
turns the specs into the report's typed rows.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.services.indicators.membership import (
    COVERAGE_THRESHOLDS,
    GRANT_MAX_EUR,
    GRANT_MAX_MEMBERS,
    GRANT_MIN_EUR,
    GRANT_MIN_MEMBERS,
)

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


def month_label(month: str) -> str:
    """``2025-03`` as a French reader writes it: ``mars 2025``."""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def euros(amount: int) -> str:
    """An amount in euros, thousands grouped by non-breaking spaces."""
    return f"{amount:,}".replace(",", "\u202f") + "\u00a0€"


@dataclass(frozen=True)
class Figure:
    """One indicator line; ``key`` is also the path of its value in ``Indicators``."""

    key: str
    label: str
    unit: str
    note: str
    caveat: tuple[str, str] | None = None
    """(attribute, sentence): the sentence, given that attribute's value, ends the note
    when the value is not zero."""


@dataclass(frozen=True)
class Delay:
    """The median, 90th percentile and mean lines of the ``DelayStats`` at ``key``."""

    key: str
    label: str
    unit: str
    how: str


@dataclass(frozen=True)
class Thresholds:
    """One line per coverage threshold, or ``absent`` when none could be evaluated."""

    purposes: Mapping[float, str]
    label: str
    """Formatted with the threshold's ``percent`` and ``purpose``."""
    note: str
    """Formatted with the ``members_needed`` to reach it."""
    absent: Figure
    """The line, with no value, when the territory's specialists are not set."""
    other_purpose: str = "seuil"


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    lines: tuple[Figure | Delay | Thresholds, ...]


@dataclass(frozen=True)
class BreakdownSpec:
    """A breakdown; ``key`` is the ``Indicators`` attribute holding its rows."""

    key: str
    title: str
    heading: str
    label: Callable[[Any], str]
    note: str


DELAY_PARTS = (
    (
        "median",
        "médiane",
        " Médiane : la moitié des demandes ont un délai plus court, l'autre moitié un délai "
        "plus long.",
    ),
    (
        "p90",
        "90e centile",
        " 90e centile : 9 demandes sur 10 ont un délai plus court ou égal ; les plus longues "
        "sont au-delà.",
    ),
    (
        "mean",
        "moyenne",
        " Moyenne : quelques demandes très longues suffisent à la faire monter.",
    ),
)
"""Each line of a ``Delay``: the ``DelayStats`` field, the label's end, the note's end.

The median's line says what is measured (the ``Delay``'s ``how``); the 90th percentile's
and the mean's only what they add, so that a phone shows three short notes, not one
long note three times."""
DELAY_SAME = "Mêmes demandes et même mesure que la médiane."
DELAY_COUNTED = " Calculé sur {count} demande{s}."
DELAY_EMPTY = " Aucune donnée."

CALENDAR_TIME = (
    "Compté en continu : nuits, week-ends, jours fériés et attente d'informations compris."
)

SECTIONS = (
    SectionSpec(
        "national",
        "Indicateurs nationaux",
        (
            Figure(
                "teleexpertise_count",
                "Nombre de téléexpertises",
                COUNT,
                "Demandes soumises pendant la période (date de soumission, heure de Paris), "
                "quel que soit leur devenir, annulées comprises.",
            ),
            Figure(
                "answered_count",
                "Téléexpertises ayant reçu une réponse",
                COUNT,
                "Demandes de la période auxquelles un spécialiste a répondu à la date du rapport.",
            ),
            Figure(
                "cancelled_count",
                "Demandes annulées",
                COUNT,
                "Annulées par le demandeur avant la réponse : comptées comme soumises, exclues "
                "des délais.",
            ),
            Figure(
                "open_count",
                "Demandes en cours",
                COUNT,
                "Ni répondues ni annulées à la date du rapport (en attente d'attribution, "
                "attribuées, acceptées ou en attente d'informations).",
            ),
            Figure(
                "requesters_count",
                "Professionnels ayant adressé des patients à l'ESS",
                COUNT,
                "Demandeurs distincts ayant soumis au moins une demande pendant la période.",
            ),
            Figure(
                "treating_physicians_count",
                "dont médecins traitants",
                COUNT,
                "Parmi ces demandeurs, ceux dont le compte est déclaré médecin traitant "
                "(profil à la date du rapport).",
            ),
            Figure(
                "patients_count",
                "Patients pris en charge via l'ESS",
                COUNT,
                "Patients distincts des demandes de la période : un patient adressé plusieurs "
                "fois compte une fois. Le service le reconnaît à une empreinte de son "
                "identité, sans jamais lire cette identité.",
                caveat=(
                    "requests_without_patient_key",
                    " {} demande(s) enregistrée(s) sans cette empreinte ne sont pas comptées.",
                ),
            ),
            Figure(
                "advanced_consultation_specialists_count",
                "Médecins de l'ESS proposant des consultations avancées",
                COUNT,
                "Spécialistes membres au moins un jour de la période dont le profil indique "
                "qu'ils proposent des consultations avancées (profil à la date du rapport).",
            ),
            Figure(
                "advanced_consultations_count",
                "Consultations avancées réalisées",
                COUNT,
                "Réponses aux demandes de la période concluant à une consultation avancée, "
                "avec une date de rendez-vous (rendez-vous à venir compris).",
            ),
        ),
    ),
    SectionSpec(
        "delays",
        "Délais",
        (
            Delay(
                "response_delay_hours",
                "Délai de réponse à la téléexpertise",
                HOURS,
                "De la soumission à la réponse, sur les demandes répondues de la période "
                "(annulées exclues). " + CALENDAR_TIME,
            ),
            Figure(
                "within_sla_rate",
                "Réponses dans le délai",
                RATE,
                "Part des réponses arrivées au plus tard à leur échéance. L'échéance est fixée "
                "à l'envoi de la demande selon sa priorité ; si l'ESS fonctionne en heures "
                "ouvrées, elle ne compte que ses heures d'ouverture (ni nuits, ni week-ends, "
                "ni jours fériés) ; elle s'arrête tant que le spécialiste attend une "
                "information du demandeur.",
            ),
            Delay(
                "acknowledge_delay_hours",
                "Délai de prise en charge",
                HOURS,
                "De la soumission à l'acceptation par le spécialiste qui détient la demande "
                "(une question au demandeur ou une réponse directe valent acceptation), "
                "réattributions comprises ; demandes annulées exclues. " + CALENDAR_TIME,
            ),
            Delay(
                "appointment_delay_days",
                "Délai d'obtention d'un rendez-vous",
                DAYS,
                "De la réponse à la date du rendez-vous qu'elle indique, pour les réponses "
                "concluant à une consultation ou à une consultation avancée avec une date.",
            ),
        ),
    ),
    SectionSpec(
        "quality",
        "Indicateur qualitatif (questionnaire de clôture)",
        (
            Figure(
                "usefulness_mean",
                "Utilité de la réponse (moyenne)",
                SCORE,
                "Note de 1 à 5 donnée par le demandeur à la clôture de la demande, moyenne "
                "sur les demandes clôturées de la période.",
            ),
            Figure(
                "referral_avoided_rate",
                "Adressages évités",
                RATE,
                "Part des clôtures où le demandeur indique que la téléexpertise a évité un "
                "adressage du patient.",
            ),
            Figure(
                "feedback_count",
                "Questionnaires de clôture reçus",
                COUNT,
                "Demandes de la période clôturées par le demandeur avec son avis.",
            ),
        ),
    ),
    SectionSpec(
        "membership",
        "Adhésion et dotation",
        (
            Figure(
                "membership.members_count",
                "Médecins membres au dernier jour de la période",
                MEMBERS,
                "Spécialistes dont les dates d'adhésion (profil) couvrent le dernier jour de "
                "la période.",
            ),
            Figure(
                "membership.members_prorated",
                "Médecins membres, proratisés sur la période",
                MEMBERS,
                "Chaque spécialiste compte pour la part de la période où il était membre (un "
                "médecin arrivé le 1er juillet compte pour 0,5 sur l'année). Sur une année "
                "civile, c'est le nombre de médecins sur lequel la dotation est calculée.",
            ),
            Figure(
                "membership.estimated_annual_grant_eur",
                "Dotation annuelle estimée",
                EUROS,
                f"{euros(GRANT_MIN_EUR)} pour {GRANT_MIN_MEMBERS} médecins, "
                f"{euros(GRANT_MAX_EUR)} pour {GRANT_MAX_MEMBERS} et plus, appliqué au nombre "
                "proratisé. Entre les deux, la dotation est supposée croître en proportion "
                "(interpolation linéaire) : c'est une hypothèse, les textes ne donnant pas de "
                "formule. Non estimée en dessous de "
                f"{GRANT_MIN_MEMBERS} médecins (seuil de création d'une ESS).",
            ),
            Figure(
                "membership.territory_specialists",
                "Spécialistes libéraux de la spécialité sur le territoire",
                COUNT,
                "Nombre renseigné par l'administrateur du service (il ne se modifie pas depuis "
                "ces pages) ; vide s'il ne l'a pas été, et la couverture n'est alors pas "
                "calculée.",
            ),
            Figure(
                "membership.coverage_rate",
                "Couverture du territoire",
                RATE,
                "Médecins membres au dernier jour de la période rapportés aux spécialistes "
                "libéraux de la spécialité sur le territoire.",
            ),
            Thresholds(
                purposes={0.10: "création de l'ESS", 0.30: "objectif", 0.50: "objectif à cinq ans"},
                label="Seuil de {percent} % ({purpose})",
                note="Atteint à partir de {members_needed} médecins membres.",
                absent=Figure(
                    "membership.coverage_thresholds",
                    "Seuils de couverture ("
                    + ", ".join(f"{round(t * 100)} %" for t in COVERAGE_THRESHOLDS)
                    + ")",
                    TEXT,
                    "Non évalués : le nombre de spécialistes du territoire n'est pas renseigné "
                    "(à demander à l'administrateur du service).",
                ),
            ),
        ),
    ),
)

GROUP_COLUMNS = (
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
)
"""Every breakdown's columns after its label: (``GroupIndicators`` field, heading, unit)."""
BREAKDOWN_NOTE = (
    "Mêmes définitions que plus haut ; dans ces tableaux, les délais sont des moyennes "
    "(pour la médiane d'un mois, affichez le rapport de ce mois)."
)

BREAKDOWNS = (
    BreakdownSpec(
        "by_month",
        "Par mois de soumission",
        "Mois",
        lambda row: month_label(row.month),
        "Mois de la date de soumission, heure de Paris. " + BREAKDOWN_NOTE,
    ),
    BreakdownSpec(
        "by_subspecialty",
        "Par sur-spécialité demandée",
        "Sur-spécialité",
        lambda row: row.name,
        BREAKDOWN_NOTE,
    ),
    BreakdownSpec(
        "by_specialist",
        "Par spécialiste",
        "Spécialiste",
        lambda row: row.name + ("" if row.member or row.specialist_id is None else " (non membre)"),
        "Spécialiste qui détient ou a traité la demande ; « Non attribuée » : demandes "
        "restées sans spécialiste. Tous les membres de la période figurent, même sans "
        "demande. " + BREAKDOWN_NOTE,
    ),
    BreakdownSpec(
        "by_priority",
        "Par priorité",
        "Priorité",
        lambda row: PRIORITIES.get(str(row.priority), str(row.priority)),
        BREAKDOWN_NOTE,
    ),
)

NOTES = (
    "Période : demandes soumises du {first:%d/%m/%Y} à 00:00 au {last:%d/%m/%Y} à 24:00, "
    "heure légale de Paris ({timezone}).",
    "Chiffres à la date de génération du rapport : une demande encore en cours peut recevoir "
    "sa réponse plus tard et changer les délais de la période.",
    "Délais comptés en continu (nuits et week-ends compris), sauf la part des réponses "
    "dans le délai, qui suit les échéances du service (voir sa ligne).",
    "Taux exprimés en pourcentage dans le tableur, en proportion (de 0 à 1) dans le JSON ; "
    "case vide : indicateur sans objet (aucune donnée).",
)
"""The report's closing notes (formatted with the period's ``first``, ``last``, ``timezone``)."""
