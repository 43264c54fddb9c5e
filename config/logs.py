"""Logging setup: text for a terminal, or one JSON object per line (``ESS_LOG_FORMAT=json``).

Every line carries the id of the HTTP request it belongs to (``-`` outside one), the
id the response's ``X-Request-ID`` header gives back, so that a user's report and the
log meet. What is logged never holds clinical content or secrets: the code logs ids,
routes and types of errors, and SQL errors hide their parameters (models.storage).
"""

import logging
import sys
from contextvars import ContextVar
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID: ContextVar[str | None] = ContextVar("ess_request_id", default=None)
"""The id of the HTTP request being handled (set by the request log middleware)."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


class RequestIdFilter(logging.Filter):
    """Give each record the current request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        record.__dict__.pop("color_message", None)  # uvicorn's copy with terminal colours
        return True


def configure_logging(log_format: Literal["text", "json"], level: int = logging.INFO) -> None:
    """Send every logger (the service's, uvicorn's, SQLAlchemy's) to stderr in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                JSON_FIELDS,
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Uvicorn's access line holds the path as sent, query string included: the service
    # writes its own (app.request_log), with the route's template instead.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
