"""The signed-in user's second factor (TOTP): status, enrolment with its QR code, removal."""

from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema
from litestar.params import JSONBody

from app.auth import issue_token, session_cookie
from app.context import AppContext
from app.dependencies import CurrentUser, DbSession, Keys, Now
from app.enrolment import ENROLMENT_OPT
from app.openapi import ProblemOperation, problem_responses
from app.services import second_factor
from app.throttle import STORE_NAME, AccountThrottle
from config import Settings
from models.second_factor import (
    RecoveryCodesRead,
    TotpActivatedRead,
    TotpCodeCreate,
    TotpDisableCreate,
    TotpEnrolmentRead,
    TotpStatusRead,
)

PATH = "/me/totp"
# Reachable with an enrolment-only token (app.enrolment).
ENROLMENT = {ENROLMENT_OPT: True}


def account_throttle(
    request: Request[Any, Any, Any], settings: Settings, now: datetime
) -> AccountThrottle:
    """The per-account limit of failed logins, which second-factor codes count against too."""
    return AccountThrottle(
        request.app.stores.get(STORE_NAME),
        settings.login_failures_per_account,
        settings.login_failure_window,
        now,
    )


def _image(media_type: str, description: str) -> type[ProblemOperation]:
    class QrImage(ProblemOperation):
        success = OpenAPIResponse(
            description=description,
            content={
                media_type: OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, format="binary")
                )
            },
        )

    return QrImage


class SecondFactorController(Controller):
    path = PATH
    tags = ["comptes"]

    @get("/", opt=ENROLMENT)
    async def get_status(
        self,
        read_session: DbSession,
        current_user: CurrentUser,
        settings: NamedDependency[Settings],
    ) -> TotpStatusRead:
        """Say whether the caller's second factor is active, pending, required."""
        return await second_factor.status(
            read_session, current_user, required=bool(settings.auth.require_totp)
        )

    @post("/start", status_code=200, opt=ENROLMENT)
    async def start(
        self,
        session: DbSession,
        vault: Keys,
        now: Now,
        current_user: CurrentUser,
        settings: NamedDependency[Settings],
    ) -> TotpEnrolmentRead:
        """Draw a new TOTP secret, pending until a first code confirms it.

        Scan the QR code (``qr.svg`` or ``qr.png``) or type the secret into an
        authenticator application, then send a code to ``/me/totp/confirm``.
        """
        enrolment = await second_factor.start_enrolment(
            session, vault, current_user, now=now, issuer=settings.report.ess_name
        )
        return TotpEnrolmentRead(
            secret=enrolment.secret,
            otpauth_uri=enrolment.uri,
            qr_svg_url=f"/api/v1{PATH}/qr.svg",
            qr_png_url=f"/api/v1{PATH}/qr.png",
        )

    @get(
        "/qr.svg",
        opt=ENROLMENT,
        operation_class=_image("image/svg+xml", "Le QR code (SVG)."),
        responses=problem_responses(404),
    )
    async def qr_svg(
        self,
        read_session: DbSession,
        vault: Keys,
        current_user: CurrentUser,
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        """The pending enrolment's QR code, as SVG (rendered here: the secret goes nowhere else)."""
        uri = await second_factor.pending_uri(
            read_session, vault, current_user, issuer=settings.report.ess_name
        )
        return _no_store(second_factor.qr_code(uri, "svg"), "image/svg+xml")

    @get(
        "/qr.png",
        opt=ENROLMENT,
        operation_class=_image("image/png", "Le QR code (PNG)."),
        responses=problem_responses(404),
    )
    async def qr_png(
        self,
        read_session: DbSession,
        vault: Keys,
        current_user: CurrentUser,
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        """The pending enrolment's QR code, as PNG."""
        uri = await second_factor.pending_uri(
            read_session, vault, current_user, issuer=settings.report.ess_name
        )
        return _no_store(second_factor.qr_code(uri, "png"), "image/png")

    @post("/confirm", status_code=200, opt=ENROLMENT, responses=problem_responses(429))
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TotpCodeCreate],
        session: DbSession,
        vault: Keys,
        now: Now,
        current_user: CurrentUser,
        context: NamedDependency[AppContext],
    ) -> Response[TotpActivatedRead]:
        """Activate the second factor with a first code.

        Answers the recovery codes, shown this once, and a new token carrying both
        factors (also the session cookie): an enrolment-only token becomes a full one.
        """
        settings = context.settings
        codes = await second_factor.confirm_enrolment(
            session,
            vault,
            account_throttle(request, settings, now),
            current_user,
            data.code,
            now=now,
        )
        token = issue_token(context.jwt_auth, current_user)
        return Response(
            TotpActivatedRead(
                recovery_codes=codes,
                access_token=token,
                expires_in=int(settings.token_ttl.total_seconds()),
            ),
            cookies=[session_cookie(context.jwt_auth, token)],
            headers={"Cache-Control": "no-store"},
        )

    @post("/disable", status_code=204, responses=problem_responses(403, 429))
    async def disable(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TotpDisableCreate],
        session: DbSession,
        vault: Keys,
        now: Now,
        current_user: CurrentUser,
        settings: NamedDependency[Settings],
    ) -> None:
        """Remove the second factor, on the password and a code (refused when required)."""
        await second_factor.disable(
            session,
            vault,
            account_throttle(request, settings, now),
            current_user,
            password=data.password,
            code=data.code,
            now=now,
            required=bool(settings.auth.require_totp),
        )

    @post("/recovery-codes", status_code=200, responses=problem_responses(429))
    async def recovery_codes(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TotpCodeCreate],
        session: DbSession,
        vault: Keys,
        now: Now,
        current_user: CurrentUser,
        settings: NamedDependency[Settings],
    ) -> Response[RecoveryCodesRead]:
        """Replace the recovery codes by new ones (shown this once), on a code."""
        codes = await second_factor.regenerate_recovery_codes(
            session,
            vault,
            account_throttle(request, settings, now),
            current_user,
            data.code,
            now=now,
        )
        return Response(
            RecoveryCodesRead(recovery_codes=codes), headers={"Cache-Control": "no-store"}
        )


def _no_store(content: bytes, media_type: str) -> Response[bytes]:
    # The image holds the secret: never kept by a cache.
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-store"})
