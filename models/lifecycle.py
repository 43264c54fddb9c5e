"""The request state machine: the one place that says which status may follow which."""

from enum import StrEnum

from models.errors import ConflictError


class Status(StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    AWAITING_INFO = "awaiting_info"
    ANSWERED = "answered"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# The status groups, named once. A specialist holds the request: it counts against
# their capacity (``User.open_count``, kept by the triggers of migration 0003).
WITH_SPECIALIST = frozenset({Status.ASSIGNED, Status.ACCEPTED, Status.AWAITING_INFO})
# Nobody has answered yet: the request is in progress and its SLA may alert.
AWAITING_ANSWER = frozenset({Status.PENDING}) | WITH_SPECIALIST
# The answer deadline runs (it pauses while awaiting information from the requester).
ANSWER_CLOCK_RUNS = AWAITING_ANSWER - {Status.AWAITING_INFO}
# Nothing more happens to the request: no message, no attachment, no action.
FINAL = frozenset({Status.CLOSED, Status.CANCELLED})

STATUS_LABELS = {
    Status.PENDING: "en attente d'attribution",
    Status.ASSIGNED: "attribuée",
    Status.ACCEPTED: "acceptée",
    Status.AWAITING_INFO: "en attente d'informations",
    Status.ANSWERED: "répondue",
    Status.CLOSED: "clôturée",
    Status.CANCELLED: "annulée",
}


class Action(StrEnum):
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    DECLINE = "decline"
    ASK_INFO = "ask_info"
    PROVIDE_INFO = "provide_info"
    ANSWER = "answer"
    CLOSE = "close"
    CANCEL = "cancel"
    ASSIGN = "assign"


ACTION_LABELS = {
    Action.DISPATCH: "attribuer",
    Action.ACCEPT: "accepter",
    Action.DECLINE: "décliner",
    Action.ASK_INFO: "demander des informations sur",
    Action.PROVIDE_INFO: "compléter",
    Action.ANSWER: "répondre à",
    Action.CLOSE: "clôturer",
    Action.CANCEL: "annuler",
    Action.ASSIGN: "attribuer manuellement",
}

# Which statuses each action may start from. The target status of a decline or a
# dispatch depends on whether someone is eligible, so it is decided by the dispatcher.
ALLOWED_FROM: dict[Action, frozenset[Status]] = {
    Action.DISPATCH: frozenset({Status.PENDING, Status.ASSIGNED}),
    Action.ACCEPT: frozenset({Status.ASSIGNED}),
    Action.DECLINE: frozenset({Status.ASSIGNED, Status.ACCEPTED}),
    Action.ASK_INFO: frozenset({Status.ASSIGNED, Status.ACCEPTED}),
    Action.PROVIDE_INFO: frozenset({Status.AWAITING_INFO}),
    Action.ANSWER: WITH_SPECIALIST,
    Action.CLOSE: frozenset({Status.ANSWERED}),
    Action.CANCEL: AWAITING_ANSWER,
    Action.ASSIGN: AWAITING_ANSWER,
}


class IllegalTransition(ConflictError):
    """An action that the request's current status does not allow (HTTP 409)."""

    def __init__(self, action: Action, status: Status) -> None:
        self.action = action
        self.status = status
        verb = ACTION_LABELS[action]
        of = "d'" if verb[0] in "aeiouéh" else "de "  # "d'accepter", "de clôturer"
        super().__init__(
            f"Impossible {of}{verb} une demande au statut « {STATUS_LABELS[Status(status)]} »."
        )


def check_transition(action: Action, status: Status | str) -> None:
    """Raise ``IllegalTransition`` unless ``action`` may start from ``status``."""
    if Status(status) not in ALLOWED_FROM[action]:
        raise IllegalTransition(action, Status(status))
