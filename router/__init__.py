"""The dispatcher: eligibility, rotation, fallback and the pending queue."""

from router.decision import Candidate, Decision, Exclusion, decide
from router.dispatch import (
    DispatchPolicy,
    assign,
    dispatch,
    drain_pending,
    lock_pool,
    sweep_pending,
)

__all__ = [
    "Candidate",
    "Decision",
    "DispatchPolicy",
    "Exclusion",
    "assign",
    "decide",
    "dispatch",
    "drain_pending",
    "lock_pool",
    "sweep_pending",
]
