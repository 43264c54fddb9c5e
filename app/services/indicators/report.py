"""The ESS activity report: the indicators with French labels and how each is computed.

``build_report`` follows the specs of ``labels`` to turn ``Indicators`` into a ``Report``
of typed rows (sections of lines, breakdown tables, notes); ``render_json`` and
``render_csv`` write it. The CSV is meant to open cleanly in a French spreadsheet: UTF-8
with a byte-order mark, ``;`` between cells, a decimal comma, dates as ``JJ/MM/AAAA``,
empty cells where nothing applies.
"""

import csv
import io
import json
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from app.services.indicators.labels import (
    BREAKDOWNS,
    COUNT,
    DAYS,
    DELAY_COUNTED,
    DELAY_EMPTY,
    DELAY_PARTS,
    DELAY_SAME,
    GROUP_COLUMNS,
    HOURS,
    MEMBERS,
    NOTES,
    RATE,
    SCORE,
    SECTIONS,
    TEXT,
    BreakdownSpec,
    Delay,
    Figure,
    Thresholds,
)
from app.services.indicators.schemas import Indicators

FORMATS = ("csv", "json")

Value = int | float | bool | None
"""What an indicator holds (a rate is a proportion from 0 to 1)."""


@dataclass(frozen=True)
class Line:
    """One indicator of a section, as the JSON holds it."""

    key: str
    label: str
    value: Value
    unit: str
    display: str
    note: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    indicators: list[Line]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: str


@dataclass(frozen=True)
class Row:
    """One row of a breakdown: its label, then one cell per ``GROUP_COLUMNS`` entry."""

    label: str
    cells: tuple[Value, ...]


@dataclass(frozen=True)
class Breakdown:
    key: str
    title: str
    note: str
    columns: list[Column]
    """The label's column first, then ``GROUP_COLUMNS``."""
    rows: list[Row]

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "note": self.note,
            "columns": [asdict(column) for column in self.columns],
            "rows": [
                {"label": row.label, **dict(zip(_GROUP_KEYS, row.cells, strict=True))}
                for row in self.rows
            ],
        }


@dataclass(frozen=True)
class Report:
    title: str
    ess_name: str
    first: date
    last: date
    timezone: str
    generated_at: datetime
    """Local time (``timezone``)."""
    sections: list[Section]
    breakdowns: list[Breakdown]
    notes: list[str]

    @property
    def period_label(self) -> str:
        return f"du {self.first:%d/%m/%Y} au {self.last:%d/%m/%Y}"

    def as_json(self) -> dict[str, Any]:
        """The document the JSON format writes (and the API returns)."""
        return {
            "report": "activity",
            "title": self.title,
            "ess_name": self.ess_name,
            "period": {"from": self.first.isoformat(), "to": self.last.isoformat()},
            "period_label": self.period_label,
            "timezone": self.timezone,
            "generated_at": self.generated_at.isoformat(),
            "sections": [asdict(section) for section in self.sections],
            "breakdowns": [breakdown.as_json() for breakdown in self.breakdowns],
            "notes": self.notes,
        }


_GROUP_KEYS = tuple(key for key, _, _ in GROUP_COLUMNS)


# --- values as a French reader writes them -------------------------------------------------

THOUSANDS = "\u202f"
"""Between groups of three digits on screen: a narrow no-break space, as French prints."""


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


def grouped(number: int) -> str:
    """``51383`` as French prints it: ``51 383`` (a narrow no-break space between groups)."""
    return f"{number:,}".replace(",", THOUSANDS)


def on_screen(value: Any, unit: str) -> str:
    """``display`` for a reader of the page: thousands grouped (``51 383``, ``1 234,5``).

    The CSV keeps ``display``: a spreadsheet reads ``51383`` as a number, not ``51 383``.
    """
    text = display(value, unit)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return text
    whole, comma, decimals = text.partition(",")
    sign = "-" if whole.startswith("-") else ""
    return sign + grouped(int(whole.lstrip("-"))) + comma + decimals


def human(value: Any, unit: str) -> str:
    """``on_screen`` with the unit after: the JSON's ``display``."""
    text = on_screen(value, unit)
    if value is None or unit in (COUNT, TEXT):
        return text
    return f"{text}\u00a0{unit}"


# --- the document ----------------------------------------------------------------------------


def _line(key: str, label: str, value: Value, unit: str, note: str) -> Line:
    return Line(key, label, value, unit, human(value, unit), note)


def _figure(spec: Figure, ind: Indicators) -> Line:
    note = spec.note
    if spec.caveat is not None:
        attribute, sentence = spec.caveat
        if count := getattr(ind, attribute):
            note += sentence.format(count)
    return _line(spec.key, spec.label, attrgetter(spec.key)(ind), spec.unit, note)


def _delay(spec: Delay, ind: Indicators) -> list[Line]:
    stats = attrgetter(spec.key)(ind)
    on = (
        DELAY_COUNTED.format(count=grouped(stats.count), s="s" if stats.count > 1 else "")
        if stats.count
        else DELAY_EMPTY
    )
    return [
        _line(
            f"{spec.key}.{field}",
            f"{spec.label} – {ending}",
            getattr(stats, field),
            spec.unit,
            (spec.how + how if index == 0 else how.lstrip() + " " + DELAY_SAME) + on,
        )
        for index, (field, ending, how) in enumerate(DELAY_PARTS)
    ]


def _thresholds(spec: Thresholds, ind: Indicators) -> list[Line]:
    found = ind.membership.coverage_thresholds
    if not found:
        absent = spec.absent
        return [_line(absent.key, absent.label, None, absent.unit, absent.note)]
    lines = []
    for threshold in found:
        percent = round(threshold.threshold * 100)
        purpose = spec.purposes.get(threshold.threshold, spec.other_purpose)
        lines.append(
            _line(
                f"membership.coverage_{percent}",
                spec.label.format(percent=percent, purpose=purpose),
                threshold.reached,
                TEXT,
                spec.note.format(members_needed=grouped(threshold.members_needed)),
            )
        )
    return lines


def _lines(spec: Figure | Delay | Thresholds, ind: Indicators) -> list[Line]:
    if isinstance(spec, Delay):
        return _delay(spec, ind)
    if isinstance(spec, Thresholds):
        return _thresholds(spec, ind)
    return [_figure(spec, ind)]


def _breakdown(spec: BreakdownSpec, ind: Indicators) -> Breakdown:
    return Breakdown(
        key=spec.key,
        title=spec.title,
        note=spec.note,
        columns=[Column("label", spec.heading, TEXT)]
        + [Column(key, label, unit) for key, label, unit in GROUP_COLUMNS],
        rows=[
            Row(spec.label(row), tuple(getattr(row, key) for key in _GROUP_KEYS))
            for row in getattr(ind, spec.key)
        ],
    )


def build_report(ind: Indicators, *, ess_name: str) -> Report:
    """The activity report of ``ind``, labelled as ``labels`` says."""
    first, last = ind.period["from"], ind.period["to"]
    return Report(
        title=f"Rapport d'activité – {ess_name}",
        ess_name=ess_name,
        first=first,
        last=last,
        timezone=ind.timezone,
        generated_at=ind.generated_at.astimezone(ZoneInfo(ind.timezone)),
        sections=[
            Section(spec.key, spec.title, [line for row in spec.lines for line in _lines(row, ind)])
            for spec in SECTIONS
        ],
        breakdowns=[_breakdown(spec, ind) for spec in BREAKDOWNS],
        notes=[note.format(first=first, last=last, timezone=ind.timezone) for note in NOTES],
    )


# --- the files -------------------------------------------------------------------------------


def render_json(report: Report) -> bytes:
    return (json.dumps(report.as_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?\d[\d\u202f ]*(?:,\d+)?$")


def _inert(cell: object) -> object:
    """A text cell a spreadsheet shows as it is written: a name such as
    ``=HYPERLINK(…)`` (chosen by whoever named a sub-specialty) gets a leading ``'``."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


class _InertWriter:
    """``csv.writer`` whose rows can run nothing when the file is opened in a spreadsheet."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._out = csv.writer(buffer, delimiter=";", lineterminator="\r\n")

    def writerow(self, row: list[object]) -> None:
        self._out.writerow([_inert(cell) for cell in row])


def render_csv(report: Report) -> bytes:
    """One sheet: the indicators, then each breakdown, then the notes (``;``, BOM)."""
    buffer = io.StringIO()
    out = _InertWriter(buffer)
    out.writerow([report.title])
    out.writerow(["Période", report.period_label])
    out.writerow(["Fuseau horaire", report.timezone])
    out.writerow(["Généré le", f"{report.generated_at:%d/%m/%Y %H:%M}"])
    out.writerow([])
    out.writerow(["Rubrique", "Indicateur", "Valeur", "Unité", "Mode de calcul"])
    for section in report.sections:
        for line in section.indicators:
            out.writerow(
                [section.title, line.label, display(line.value, line.unit), line.unit, line.note]
            )
    for table in report.breakdowns:
        out.writerow([])
        out.writerow([table.title])
        out.writerow([column.label for column in table.columns])
        for row in table.rows:
            values = (row.label, *row.cells)
            out.writerow(
                [
                    display(value, column.unit)
                    for value, column in zip(values, table.columns, strict=True)
                ]
            )
        out.writerow(["Note", table.note])
    out.writerow([])
    for note in report.notes:
        out.writerow(["Note", note])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def render(report: Report, report_format: str) -> bytes:
    if report_format == "csv":
        return render_csv(report)
    return render_json(report)


def filename(report: Report, report_format: str) -> str:
    return f"rapport-activite_{report.first}_{report.last}.{report_format}"


def media_type(report_format: str) -> str:
    # Litestar adds "; charset=utf-8" to text types itself.
    return "text/csv" if report_format == "csv" else "application/json"
