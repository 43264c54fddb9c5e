"""``ess-router report``: the ESS activity report, as a file to send to the ARS and the CPAM."""

import sys
from pathlib import Path

import click


def _format_for(report_format: str | None, output: Path | None) -> str:
    """The format asked for, else the output file's extension, else JSON."""
    if report_format:
        return report_format
    if output is not None and output.suffix.lower() in (".csv", ".json"):
        return output.suffix.lower().lstrip(".")
    return "json"


@click.command()
@click.option("--from", "first", required=True, metavar="AAAA-MM-JJ", help="First day.")
@click.option("--to", "last", required=True, metavar="AAAA-MM-JJ", help="Last day (included).")
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["csv", "json"]),
    default=None,
    help="csv (French spreadsheet: UTF-8 with BOM, ';') or json; default: from -o, else json.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to FILE instead of the standard output.",
)
def report(first: str, last: str, report_format: str | None, output: Path | None) -> None:
    """The activity report with the ESS indicators for a period (local dates, included)."""
    from zoneinfo import ZoneInfo

    # app.cli registers this command: import its helpers when it runs, not at import.
    from app.cli import CommandError, _run, _settings
    from app.services.indicators import parse_period

    settings = _settings()
    chosen = _format_for(report_format, output)
    period = parse_period(first, last, ZoneInfo(settings.timezone))
    if output is not None and output.parent and not output.parent.is_dir():
        raise CommandError(f"le dossier de {output} n'existe pas")

    async def build() -> bytes:
        from app.main import build_context
        from app.services import report as report_service
        from app.services.indicators import compute_indicators

        context = build_context()
        try:
            async with context.db.reading() as session:
                indicators = await compute_indicators(
                    session,
                    period,
                    now=context.clock.now(),
                    territory_specialists=settings.report.territory_specialists,
                )
        finally:
            await context.db.dispose()
        document = report_service.build_report(indicators, ess_name=settings.report.ess_name)
        return report_service.render(document, chosen)

    content = _run(build)
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(content)
    click.echo(f"Rapport d'activité ({chosen}) écrit dans {output} ({len(content)} octets).")
