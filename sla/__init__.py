"""Deadlines, the business calendar and the scheduler (see the SLA issue)."""
