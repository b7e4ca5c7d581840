"""Messages to people: templates per purpose, language and channel, an outbox in the database,
and delivery by SMTP, an SMS gateway or the local development outbox (docs/messages.md)."""
