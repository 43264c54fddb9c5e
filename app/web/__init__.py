"""The web pages: French, server-rendered (Jinja), HTMX for partial updates, no build step.

Handlers call the same services as the API (``app.services``); forms carry the API's
field names. See ``app.web.session`` for how pages are authenticated.
"""

from litestar import Litestar, Router
from litestar.plugins.htmx import HTMXRequest

from app.web.account import AccountController
from app.web.account_links import AccountLinkPages
from app.web.answer_templates import AnswerTemplatesController
from app.web.assets import static_file
from app.web.availability import AvailabilityController
from app.web.coordination import CoordinationController
from app.web.errors import WEB_EXCEPTION_HANDLERS
from app.web.login import LoginController
from app.web.my_activity import ActivityController
from app.web.operations import OperationsController
from app.web.queue import QueuePollController
from app.web.report import ReportPageController
from app.web.request_page import ATTACH_HANDLER, RequestPageController
from app.web.requests import (
    MAX_FILES,
    SUBMIT_HANDLER,
    RequestFormController,
    RequestListController,
)
from app.web.roster import RosterPageController
from app.web.session import WebSessionMiddleware
from app.web.specialist import AttachmentViewController, SpecialistActionsController
from app.web.team import SpecialtyFormController, TeamController
from app.web.team_accounts import TeamAccountController
from app.web.templating import template_config

# Multipart framing around uploaded files: boundaries, part headers, names, the form's text.
FORM_OVERHEAD_BYTES = 512 * 1024

web_router = Router(
    path="/",
    route_handlers=[
        LoginController,
        AccountLinkPages,
        AccountController,
        RequestListController,
        RequestFormController,
        RequestPageController,
        QueuePollController,
        SpecialistActionsController,
        AttachmentViewController,
        AnswerTemplatesController,
        CoordinationController,
        AvailabilityController,
        ActivityController,
        TeamController,
        TeamAccountController,
        SpecialtyFormController,
        RosterPageController,
        ReportPageController,
        OperationsController,
    ],
    request_class=HTMXRequest,
    middleware=[WebSessionMiddleware],
    # Authenticated by WebSessionMiddleware (same JWT, same cookie), which sends a
    # visitor without a session to the login page instead of answering 401.
    opt={"exclude_from_auth": True},
    exception_handlers=WEB_EXCEPTION_HANDLERS,
    include_in_schema=False,
)


def allow_form_uploads(app: Litestar, attachment_max_bytes: int) -> None:
    """Let the forms that carry files take up to ``MAX_FILES`` attachments each."""
    for name in (SUBMIT_HANDLER, ATTACH_HANDLER):
        index = app.get_handler_index_by_name(name)
        assert index is not None, f"no route handler named {name}"
        index["handler"].request_max_body_size = (
            MAX_FILES * attachment_max_bytes + FORM_OVERHEAD_BYTES
        )


__all__ = ["allow_form_uploads", "static_file", "template_config", "web_router"]
