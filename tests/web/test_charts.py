"""The dashboard's SVG charts: axes a reader can trust."""

import re
from itertools import pairwise

import pytest

from app.web.charts import Series, line_chart, rate_bars, stacked_bars

WEEKS = [f"{day:02d}/01" for day in range(1, 14)]


def axis_labels(svg: str) -> list[str]:
    return re.findall(r'<text class="axis"[^>]*text-anchor="end">([^<]*)</text>', svg)


@pytest.mark.parametrize("tallest", [1, 3, 5, 9, 17, 42, 170])
def test_request_counts_are_whole_numbers_and_the_tallest_bar_fits(tallest: int) -> None:
    values = [0] * 12 + [tallest]
    svg = stacked_bars("c", "Demandes", WEEKS, [Series("Standard", "standard", values)])
    labels = axis_labels(svg)
    assert len(labels) == 5
    assert all(label.isdigit() for label in labels), labels  # no « 1,2 » requests
    assert int(labels[-1]) >= tallest
    steps = {int(b) - int(a) for a, b in pairwise(labels)}
    assert len(steps) == 1  # evenly spaced


def test_hours_axis_reads_in_french_with_its_unit() -> None:
    svg = line_chart("c", "Délais", WEEKS, [Series("Médiane", "median", [0.3] * 13)], unit=" h")
    assert axis_labels(svg) == ["0 h", "0,1 h", "0,2 h", "0,3 h", "0,4 h"]


def test_rate_bars_keep_long_names_whole_and_show_missing_rates() -> None:
    name = "Insuffisance cardiaque et cardiomyopathies"
    svg = rate_bars("c", "Dans le délai", [(name, 0.925), ("Rythmologie", None)])
    assert name in svg
    assert "92,5\u00a0%" in svg
    assert ">—</text>" in svg
