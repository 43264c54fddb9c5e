"""``ess-router report``: the ESS activity report, as a file to send to the ARS and the CPAM."""

import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from app.cli.common import CommandError, load_settings, operator_errors, with_context
from app.context import AppContext
from app.services.indicators import Period, compute_indicators, parse_period
from app.services.indicators import report as report_service


@click.command(
    help="Rapport d'activité avec les indicateurs de l'ESS.\n\nLa période va de --from à --to "
    "(dates locales, incluses)."
)
@click.option("--from", "first", required=True, metavar="AAAA-MM-JJ", help="Premier jour.")
@click.option("--to", "last", required=True, metavar="AAAA-MM-JJ", help="Dernier jour (inclus).")
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["csv", "json"]),
    default=None,
    help="csv (tableur français : UTF-8 avec BOM, « ; ») ou json ; par défaut selon -o, "
    "sinon json.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Écrit le rapport dans FICHIER plutôt que sur la sortie standard.",
    metavar="FICHIER",
)
def report(first: str, last: str, report_format: str | None, output: Path | None) -> None:
    chosen = _format_for(report_format, output)
    with operator_errors():
        period = parse_period(first, last, ZoneInfo(load_settings().timezone))
    if output is not None and output.parent and not output.parent.is_dir():
        raise CommandError(f"le dossier de {output} n'existe pas")
    content = _render(period, chosen)
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(content)
    click.echo(f"Rapport d'activité ({chosen}) écrit dans {output} ({len(content)} octets).")


@with_context
async def _render(context: AppContext, period: Period, chosen: str) -> bytes:
    async with context.db.reading() as session:
        indicators = await compute_indicators(
            session,
            period,
            now=context.clock.now(),
            territory_specialists=context.settings.report.territory_specialists,
        )
    document = report_service.build_report(indicators, ess_name=context.settings.report.ess_name)
    return report_service.render(document, chosen)


def _format_for(report_format: str | None, output: Path | None) -> str:
    """The format asked for, else the output file's extension, else JSON."""
    if report_format:
        return report_format
    if output is not None and output.suffix.lower() in (".csv", ".json"):
        return output.suffix.lower().lstrip(".")
    return "json"
