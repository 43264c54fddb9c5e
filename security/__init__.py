"""Passwords and tokens (and, later, encryption at rest and the audit chain)."""
