"""The outbox and the SMTP sender (see the notifications issue)."""
