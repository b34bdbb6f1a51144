"""Webhooks: signed, retried, dead-lettered deliveries that follow the event log."""
