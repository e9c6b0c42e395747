"""Notifications: channels admins configure, an outbox of events, and their deliveries."""
