"""Sending the outbox: French e-mails rendered from templates and delivered over SMTP."""
