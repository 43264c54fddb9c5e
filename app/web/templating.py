"""The pages' Jinja environment: French formats, assets, the CSRF field, the common context."""

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from litestar import Request
from litestar.datastructures import Cookie
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template import TemplateConfig
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup, escape

from app.csrf import CSRF_COOKIE, CSRF_FORM_FIELD
from app.web import display
from app.web.assets import asset_url

TEMPLATES = Path(__file__).parent / "templates"
FLASH_COOKIE = "ess_flash"
# What a redirect may announce on the next page: a key in the cookie, never free text.
FLASH_MESSAGES = {
    "signed_out": "Vous êtes déconnecté.",
    "submitted": "Votre demande a été envoyée.",
    "message_sent": "Votre message a été envoyé.",
    "file_added": "La pièce jointe a été ajoutée.",
    "closed": "La demande est clôturée. Merci pour votre retour.",
    "cancelled": "La demande est annulée.",
    "info_requested": "Votre demande d'informations est envoyée : le délai de réponse est "
    "suspendu jusqu'à la réponse du médecin.",
    "accepted": "Vous avez accepté la demande.",
    "declined": "Vous avez décliné la demande : elle ne vous sera plus proposée.",
    "answered": "Votre réponse a été envoyée au médecin demandeur.",
    "draft_saved": "Le brouillon de votre réponse est enregistré.",
    "template_inserted": "Le modèle est ajouté à votre réponse (brouillon enregistré).",
    "template_created": "Le modèle est enregistré.",
    "template_deleted": "Le modèle est supprimé.",
    "schedule_saved": "Votre planning est enregistré.",
    "absence_added": "L'absence est enregistrée.",
    "absence_removed": "L'absence est annulée.",
    "assigned": "La demande est attribuée.",
    "invited": "L'invitation est envoyée.",
    "invited_held": "L'invitation est prête, mais aucun serveur d'e-mail n'est configuré : "
    "elle est gardée et partira dès qu'il le sera (voir Exploitation).",
    "deactivated": "Le compte est désactivé.",
    "reactivated": "Le compte est réactivé.",
    "account_saved": "Les modifications du compte sont enregistrées.",
    "account_saved_email_pending": "Les modifications du compte sont enregistrées. Un lien est "
    "envoyé à la nouvelle adresse : le compte en changera quand il sera suivi.",
    "account_saved_reinvited": "Les modifications du compte sont enregistrées. L'invitation est "
    "envoyée à la nouvelle adresse.",
    "their_schedule_saved": "Le planning est enregistré.",
    "retried": "Les notifications sont remises dans la file d'envoi.",
    "roster_imported": "Le tableau des spécialistes est importé.",
    "specialty_created": "La spécialité est ajoutée.",
    "specialty_renamed": "La spécialité est renommée.",
    "specialty_retired": "La spécialité est retirée : elle n'est plus proposée aux nouvelles "
    "demandes.",
    "specialty_restored": "La spécialité est remise en service.",
    "subspecialty_created": "La sur-spécialité est ajoutée.",
    "subspecialty_renamed": "La sur-spécialité est renommée.",
    "subspecialty_retired": "La sur-spécialité est retirée : elle n'est plus proposée aux "
    "nouvelles demandes.",
    "subspecialty_restored": "La sur-spécialité est remise en service.",
    "resumed": "Vous êtes de nouveau connecté : vérifiez votre saisie puis envoyez-la.",
    "password_set": "Votre mot de passe est enregistré : connectez-vous.",
    "password_changed": "Votre mot de passe est changé.",
    "totp_disabled": "La double authentification est désactivée.",
    "enrolment_needed": "La double authentification est obligatoire : activez-la pour continuer.",
    "email_confirmed": "Votre nouvelle adresse est confirmée : connectez-vous avec elle.",
}


@pass_context
def csrf_field(context: Any) -> Markup:
    """The hidden CSRF input of a form (the cookie's token when the middleware set none)."""
    request: Request[Any, Any, Any] = context["request"]
    token = value_or_default(ScopeState.from_scope(request.scope).csrf_token, None)
    token = token or request.cookies.get(CSRF_COOKIE)
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FORM_FIELD, escape(token or "")
    )


def build_environment(zone: ZoneInfo) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    environment.globals.update(
        asset=asset_url,
        csrf_field=csrf_field,
        STATUS_BADGES=display.STATUS_BADGES,
        STATUS_TONES=display.STATUS_TONES,
        SLA_LABELS=display.SLA_LABELS,
        PRIORITY_LABELS=display.PRIORITY_LABELS,
        OUTCOME_LABELS=display.OUTCOME_LABELS,
        SEX_LABELS=display.SEX_LABELS,
        FIELD_LABELS=display.FIELD_LABELS,
    )
    environment.filters.update(
        datetime_fr=lambda value: display.french_datetime(value, zone),
        short_datetime=lambda value: display.short_datetime(value, zone),
        date_fr=display.french_date,
        remaining=display.remaining,
        file_size=display.file_size,
        hours_fr=display.hours_fr,
        percent_fr=display.percent_fr,
        decimal_fr=display.decimal_fr,
    )
    return environment


def template_config(zone: ZoneInfo) -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(build_environment(zone)))


def flash_cookie(key: str) -> Cookie:
    """Announce ``key``'s message on the next page shown (after a redirect)."""
    return Cookie(key=FLASH_COOKIE, value=key, path="/", max_age=60, httponly=True, samesite="lax")


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Template:
    """Render a page with what every page shows: the user, the flash message, the title."""
    user = request.scope.get("user")
    flash_key = request.cookies.get(FLASH_COOKIE)
    cookies = list(cookies or [])
    if flash_key is not None:
        cookies.append(Cookie(key=FLASH_COOKIE, value="", path="/", max_age=0))
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return Template(
        template_name=template,
        context={
            "user": user,
            "flash": FLASH_MESSAGES.get(flash_key or ""),
            **context,
        },
        status_code=status_code,
        cookies=cookies,
    )
