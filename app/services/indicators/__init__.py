"""The ESS's indicators for any period, and the activity report made of them.

What the ARS and the CPAM ask for (the national indicators of the activity report), the
delays of the regional specification (to answer a téléexpertise, to get an appointment),
the close-out feedback, breakdowns, and the membership that the annual grant is prorated on:

- ``period``: the reporting period, local dates checked and turned into UTC bounds;
- ``schemas``: the indicators as ``GET /api/v1/indicators`` returns them;
- ``statements``: the SQL, with its PostgreSQL and SQLite twins where their plans differ;
- ``membership``: the members prorated over the period, the estimated grant, the coverage;
- ``compute``: ``compute_indicators``, the statements in one snapshot and their roll-ups;
- ``report``: the activity report (its labels as data, typed rows) written as CSV or JSON.
"""

from app.services.indicators.compute import compute_indicators
from app.services.indicators.period import Period, parse_period
from app.services.indicators.schemas import Indicators

__all__ = ["Indicators", "Period", "compute_indicators", "parse_period"]
