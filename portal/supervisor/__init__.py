"""The background supervisor: reconciles what the database asks for with the world.

Domains give it work by registering a handler class with `@handler`; every supervisor builds
its own instance of each and ticks it, in the app context, only while it holds the lease.
"""
from portal.supervisor.runner import Supervisor, handler

__all__ = ["Supervisor", "handler"]
