"""Operations at a glance: the audit chain's state and the data keys' versions.

``ess-router audit verify`` and the coordinator's page give the same verdict, from here.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from app.context import AppContext
from models.audit import verify as verify_chain
from security.audit_anchor import AnchorError, checkpoint_path
from security.audit_anchor import read as read_checkpoint


@dataclass(frozen=True)
class AuditVerdict:
    sound: bool
    message: str  # in French


async def verify_audit(context: AppContext) -> AuditVerdict:
    """Walk the audit chain up to the checkpoint kept beside the key file."""
    path = checkpoint_path(context.settings.key_file_path())
    try:
        checkpoint = read_checkpoint(path, context.vault.keyring)
    except AnchorError as exc:
        return AuditVerdict(False, str(exc))
    reach = None if checkpoint is None else (checkpoint.seq, checkpoint.hash)
    checked, broken = await verify_chain(context.db, reach=reach)
    if broken is not None and broken.truncated:
        assert checkpoint is not None
        return AuditVerdict(
            False,
            f"journal d'audit tronqué : {broken.reason} (point de contrôle du "
            f"{checkpoint.at:%d/%m/%Y à %H:%M:%S})",
        )
    if broken is not None:
        return AuditVerdict(
            False,
            f"journal d'audit altéré à l'entrée n° {broken.seq} : {broken.reason} "
            f"({checked} entrée(s) intègre(s) avant elle)",
        )
    if checkpoint is None:
        return AuditVerdict(
            True,
            f"Journal d'audit intègre : {checked} entrée(s) vérifiée(s) ; pas encore de point de "
            "contrôle (écrit par le service en marche) : une troncature ne serait pas vue.",
        )
    return AuditVerdict(
        True,
        f"Journal d'audit intègre : {checked} entrée(s) vérifiée(s) ; la chaîne atteint son "
        f"point de contrôle (entrée n° {checkpoint.seq}).",
    )


@dataclass(frozen=True)
class KeyState:
    active: int
    versions: tuple[int, ...]
    retired: tuple[int, ...]
    # A rotation rewrites the key file: its last change is the last rotation (or creation).
    changed_at: datetime | None


def key_state(context: AppContext) -> KeyState:
    keyring = context.vault.keyring
    path = context.settings.key_file_path()
    try:
        changed = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        changed = None
    return KeyState(keyring.active_version, keyring.versions, keyring.retired_versions, changed)
