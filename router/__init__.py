"""The dispatcher: eligibility, rotation, fallback and the pending queue."""

from router.decision import Candidate, Decision, Exclusion, decide
from router.dispatch import assign, dispatch

__all__ = ["Candidate", "Decision", "Exclusion", "assign", "decide", "dispatch"]
