"""A user's own preferences: page language and time zone."""
