"""Login, the caller's profile, specialties and user management."""

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlmodel import Field, SQLModel

from app.api.second_factor import account_throttle
from app.auth import issue_token, requires, session_cookie
from app.context import AppContext
from app.dependencies import CurrentUser, DbSession, Keys, Now, Policy
from app.enrolment import login_token
from app.errors import problem
from app.openapi import problem_responses
from app.services import accounts as account_service
from app.services import availability, second_factor
from app.services import specialties as specialty_service
from app.services import users as user_service
from config import Settings
from models import (
    AbsenceCreate,
    AbsenceRead,
    Role,
    ScheduleRead,
    ScheduleUpdate,
    SpecialtyCreate,
    SpecialtyRead,
    SpecialtyUpdate,
    SubspecialtyCreate,
    SubspecialtyUpdate,
    UserCreate,
    UserRead,
    UserUpdate,
)
from models.input import Input, SingleLine
from models.user import PASSWORD_MAX_LENGTH


class LoginCreate(Input):
    email: SingleLine = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)
    otp: SingleLine | None = Field(
        default=None,
        max_length=40,
        description="accounts with a second factor: the 6-digit code, or a recovery code",
    )


class PasswordChange(Input):
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    new_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class TokenRead(SQLModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    second_factor_enrolment_required: bool = Field(
        default=False,
        description="the token reaches only /me/totp: the service requires a second factor "
        "and the account has none yet",
    )


class AuthController(Controller):
    path = "/auth"
    tags = ["comptes"]

    # No session rides on a login, so no CSRF token: app.csrf still refuses other origins.
    @post(
        "/login",
        status_code=200,
        exclude_from_auth=True,
        exclude_from_csrf=True,
        responses=problem_responses(401, 429),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginCreate],
        read_session: DbSession,
        session: DbSession,
        vault: Keys,
        now: Now,
        context: NamedDependency[AppContext],
    ) -> Response[TokenRead]:
        """Exchange an e-mail and password (and ``otp``, if the account has a second factor)
        for a bearer token and the session cookie.

        An account with a second factor and no ``otp`` gets 401 with
        ``second_factor_required: true``: send the same login again with the code.
        """
        settings = context.settings
        try:
            user, stage = await second_factor.log_in(
                read_session,
                session,
                vault,
                account_throttle(request, settings, now),
                email=data.email,
                password=data.password,
                otp=data.otp,
                now=now,
                required=bool(settings.auth.require_totp),
            )
        except second_factor.LoginRefused as refused:
            extra = {"second_factor_required": True} if refused.second_factor_required else {}
            raise problem(401, str(refused), **extra) from None
        auth = context.jwt_auth
        token, ttl = login_token(auth, user, stage, settings.token_ttl)
        return Response(
            TokenRead(
                access_token=token,
                expires_in=int(ttl.total_seconds()),
                second_factor_enrolment_required=stage is second_factor.LoginStage.ENROLMENT_ONLY,
            ),
            cookies=[session_cookie(auth, token)],
        )


class MeController(Controller):
    path = "/me"
    tags = ["comptes"]

    @get("/")
    async def me(self, read_session: DbSession, current_user: CurrentUser) -> UserRead:
        """Return the caller's own account."""
        return (await user_service.to_read(read_session, [current_user]))[0]

    @post("/password", status_code=200, responses=problem_responses(422))
    async def change_password(
        self,
        data: JSONBody[PasswordChange],
        session: DbSession,
        now: Now,
        current_user: CurrentUser,
        context: NamedDependency[AppContext],
    ) -> Response[TokenRead]:
        """Change one's password: every other session ends, this one gets a fresh token."""
        user = await user_service.get_user(session, current_user.id)
        await account_service.change_password(
            session, user, data.current_password, data.new_password, now=now
        )
        auth = context.jwt_auth
        token = issue_token(auth, user)
        return Response(
            TokenRead(
                access_token=token, expires_in=int(context.settings.token_ttl.total_seconds())
            ),
            cookies=[session_cookie(auth, token)],
        )


class SpecialtyController(Controller):
    """The ESS's specialties and sub-specialties; codes never change, names may."""

    path = "/specialties"
    tags = ["spécialités"]

    @get("/")
    async def list_specialties(self, read_session: DbSession) -> list[SpecialtyRead]:
        """List the specialties and sub-specialties of the ESS, retired ones marked
        ``retired: true`` (no longer offered to new requests)."""
        return await specialty_service.list_specialties(read_session)

    @post("/", guards=[requires(Role.COORDINATOR)], responses=problem_responses(409, 422))
    async def create_specialty(
        self,
        data: JSONBody[SpecialtyCreate],
        session: DbSession,
        now: Now,
        current_user: CurrentUser,
    ) -> SpecialtyRead:
        """Add a specialty with its sub-specialties."""
        return await specialty_service.create_specialty(
            session, data, now=now, actor_id=current_user.id
        )

    @patch(
        "/{code:str}",
        guards=[requires(Role.COORDINATOR)],
        responses=problem_responses(404, 409, 422),
    )
    async def update_specialty(
        self,
        code: FromPath[str],
        data: JSONBody[SpecialtyUpdate],
        session: DbSession,
        now: Now,
        current_user: CurrentUser,
    ) -> SpecialtyRead:
        """Rename a specialty, retire it (``retired: true``) or put it back in service."""
        return await specialty_service.update_specialty(
            session, code, data, now=now, actor_id=current_user.id
        )

    @post(
        "/{code:str}/subspecialties",
        guards=[requires(Role.COORDINATOR)],
        responses=problem_responses(404, 409, 422),
    )
    async def add_subspecialty(
        self,
        code: FromPath[str],
        data: JSONBody[SubspecialtyCreate],
        session: DbSession,
        now: Now,
        current_user: CurrentUser,
    ) -> SpecialtyRead:
        """Add a sub-specialty to a specialty; answers the whole specialty."""
        return await specialty_service.add_subspecialty(
            session, code, data, now=now, actor_id=current_user.id
        )

    @patch(
        "/{code:str}/subspecialties/{sub:str}",
        guards=[requires(Role.COORDINATOR)],
        responses=problem_responses(404, 409, 422),
    )
    async def update_subspecialty(
        self,
        code: FromPath[str],
        sub: FromPath[str],
        data: JSONBody[SubspecialtyUpdate],
        session: DbSession,
        now: Now,
        current_user: CurrentUser,
    ) -> SpecialtyRead:
        """Rename a sub-specialty, retire it or put it back in service; answers the specialty."""
        return await specialty_service.update_subspecialty(
            session, code, sub, data, now=now, actor_id=current_user.id
        )


class UserController(Controller):
    path = "/users"
    tags = ["comptes"]
    guards = [requires(Role.COORDINATOR)]

    @post("/")
    async def create_user(
        self,
        data: JSONBody[UserCreate],
        session: DbSession,
        now: Now,
        policy: Policy,
        settings: NamedDependency[Settings],
    ) -> UserRead:
        """Create an account; without a password, the new user is e-mailed an invitation."""
        user = await user_service.create_user(
            session, data, now=now, default_capacity=settings.default_capacity, policy=policy
        )
        if user.password_hash is None:
            await account_service.invite(session, user, now=now, settings=settings)
        return (await user_service.to_read(session, [user]))[0]

    @post("/{user_id:uuid}/invitation", status_code=202, responses=problem_responses(404, 409))
    async def resend_invitation(
        self,
        user_id: FromPath[uuid.UUID],
        session: DbSession,
        now: Now,
        settings: NamedDependency[Settings],
    ) -> None:
        """E-mail the invitation again; the link sent before stops working."""
        user = await user_service.get_user(session, user_id)
        await account_service.invite(session, user, now=now, settings=settings)

    @get("/")
    async def list_users(
        self,
        read_session: DbSession,
        role: Annotated[Role | None, QueryParameter(name="role", required=False)] = None,
    ) -> list[UserRead]:
        """List accounts, optionally of one role."""
        users = await user_service.list_users(read_session, role)
        return await user_service.to_read(read_session, users)

    @patch("/{user_id:uuid}")
    async def update_user(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[UserUpdate],
        session: DbSession,
        now: Now,
        policy: Policy,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> UserRead:
        """Change an account: name, e-mail (confirmed by a link), role's fields, active.

        Refused (409) : deactivating a specialist who still holds open requests; (422)
        deactivating one's own account."""
        user = await user_service.get_user(session, user_id)
        user = await user_service.update_user(
            session, user, data, now=now, policy=policy, settings=settings, actor=current_user
        )
        return (await user_service.to_read(session, [user]))[0]


class AvailabilityController(Controller):
    """A specialist's weekly schedule and absences (the specialist or the coordinator)."""

    path = "/users/{user_id:uuid}"
    tags = ["disponibilités"]
    guards = [requires(Role.SPECIALIST, Role.COORDINATOR)]

    @get("/schedule")
    async def get_schedule(
        self,
        user_id: FromPath[uuid.UUID],
        read_session: DbSession,
        current_user: CurrentUser,
    ) -> ScheduleRead:
        """Return the weekly schedule (local times; empty: available whenever open)."""
        user = await availability.specialist_for(read_session, current_user, user_id)
        return await availability.read_schedule(read_session, user)

    @put("/schedule")
    async def put_schedule(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[ScheduleUpdate],
        session: DbSession,
        now: Now,
        policy: Policy,
        current_user: CurrentUser,
    ) -> ScheduleRead:
        """Replace the weekly schedule (weekday 0 = Monday, "HH:MM" local times)."""
        user = await availability.specialist_for(session, current_user, user_id)
        return await availability.replace_schedule(session, user, data, now=now, policy=policy)

    @get("/absences")
    async def get_absences(
        self,
        user_id: FromPath[uuid.UUID],
        read_session: DbSession,
        current_user: CurrentUser,
    ) -> list[AbsenceRead]:
        """List the specialist's absences."""
        user = await availability.specialist_for(read_session, current_user, user_id)
        return await availability.list_absences(read_session, user)

    @post("/absences")
    async def post_absence(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[AbsenceCreate],
        session: DbSession,
        now: Now,
        current_user: CurrentUser,
    ) -> AbsenceRead:
        """Declare an absence: no new request is assigned during it."""
        user = await availability.specialist_for(session, current_user, user_id)
        return await availability.add_absence(session, user, data, now=now)

    @delete("/absences/{absence_id:uuid}")
    async def delete_absence(
        self,
        user_id: FromPath[uuid.UUID],
        absence_id: FromPath[uuid.UUID],
        session: DbSession,
        now: Now,
        policy: Policy,
        current_user: CurrentUser,
    ) -> None:
        """Cancel an absence."""
        user = await availability.specialist_for(session, current_user, user_id)
        await availability.remove_absence(session, user, absence_id, now=now, policy=policy)
