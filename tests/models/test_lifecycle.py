"""The request state machine: every action from every status, allowed or 409."""

import pytest

from models.lifecycle import ALLOWED_FROM, Action, IllegalTransition, Status, check_transition

EXPECTED_ALLOWED = {
    (Action.ACCEPT, Status.ASSIGNED),
    (Action.DECLINE, Status.ASSIGNED),
    (Action.DECLINE, Status.ACCEPTED),
    (Action.ASK_INFO, Status.ASSIGNED),
    (Action.ASK_INFO, Status.ACCEPTED),
    (Action.PROVIDE_INFO, Status.AWAITING_INFO),
    (Action.ANSWER, Status.ASSIGNED),
    (Action.ANSWER, Status.ACCEPTED),
    (Action.ANSWER, Status.AWAITING_INFO),
    (Action.CLOSE, Status.ANSWERED),
    (Action.DISPATCH, Status.PENDING),
    (Action.DISPATCH, Status.ASSIGNED),
    *(
        (Action.CANCEL, s)
        for s in (Status.PENDING, Status.ASSIGNED, Status.ACCEPTED, Status.AWAITING_INFO)
    ),
    *(
        (Action.ASSIGN, s)
        for s in (Status.PENDING, Status.ASSIGNED, Status.ACCEPTED, Status.AWAITING_INFO)
    ),
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("status", list(Status))
def test_transition_table(action: Action, status: Status) -> None:
    if (action, status) in EXPECTED_ALLOWED:
        check_transition(action, status)
    else:
        with pytest.raises(IllegalTransition) as caught:
            check_transition(action, status)
        assert str(caught.value).startswith(("Impossible de ", "Impossible d'"))


def test_terminal_statuses_allow_nothing() -> None:
    for status in (Status.CLOSED, Status.CANCELLED):
        assert not any(status in allowed for allowed in ALLOWED_FROM.values())


def test_message_names_action_and_status_in_french() -> None:
    with pytest.raises(
        IllegalTransition, match="Impossible de clôturer une demande au statut « attribuée »"
    ):
        check_transition(Action.CLOSE, "assigned")
