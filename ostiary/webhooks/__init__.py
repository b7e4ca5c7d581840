"""Webhooks: signed notifications of changes to subscribers, from a database outbox."""
