"""Deadlines, the business calendar, firing due deadlines exactly once, and the scheduler."""
