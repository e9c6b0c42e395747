"""The background supervisor: reconciles what the database asks for with the world.

Domain issues give it work by registering tick handlers with `on_tick`; each handler runs
once per tick, in the app context, only while this instance holds the lease.
"""
from portal.supervisor.runner import Supervisor, on_tick

__all__ = ["Supervisor", "on_tick"]
