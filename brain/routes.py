"""Which Session may give an eye's routes, and when that eye may send: the gateway's table
of every eye's pipes (the pipes themselves, and the writing down them, are
actors/dataplane/routes.py).

A restarted Session connects anew and gives its routes again; its connections are
numbered in the order they came, so a late word from the Session it replaced changes
nothing. An eye may send once its Session has given all its routes and connected for
what the pipes cannot take (`RouteTable.linked`).

(It stays in brain/: these are the gateway's decisions about its Sessions' connections,
the control side; the data plane package holds only what moves the bytes.)
"""

from __future__ import annotations

import socket

from actors.dataplane.routes import EyeRoutes
from actors.messages import Route

__all__ = ["RouteTable"]


class RouteTable:
    """Every eye's routes, as their Sessions give them over numbered connections."""

    def __init__(self, kept: int):
        self.kept = kept
        self.eyes: dict[str, tuple[int, EyeRoutes]] = {}  # session id → (its connection's number, routes)
        self.given: set[str] = set()  # sessions that have given all their routes
        self.connected: set[str] = set()  # sessions connected for what the pipes cannot take

    def route(self, connection: int, route: Route, pipe: socket.socket) -> None:
        routes = self._routes_of(connection, route.session_id)
        if routes is None:
            pipe.close()
        else:
            routes.add(route, pipe)

    def routes_given(self, connection: int, session_id: str) -> bool:
        """All of a Session's routes are in; whether its eye may send now."""
        if self._routes_of(connection, session_id) is not None:
            self.given.add(session_id)
        return self.linked(session_id)

    def session_connected(self, session_id: str) -> bool:
        """Its Session connected for the rest; whether its eye may send now."""
        self.connected.add(session_id)
        return self.linked(session_id)

    def session_disconnected(self, session_id: str) -> None:
        self.connected.discard(session_id)

    def linked(self, session_id: str) -> bool:
        return session_id in self.given and session_id in self.connected

    def closed(self, connection: int, session_id: str) -> None:
        """A Session's routes connection closed (it ended): its pipes go, unless a newer
        Session of the same eye has given its own."""
        held = self.eyes.get(session_id)
        if held is not None and held[0] == connection:
            self.forget(session_id)

    def get(self, session_id: str) -> EyeRoutes | None:
        held = self.eyes.get(session_id)
        return held[1] if held is not None else None

    def forget(self, session_id: str) -> None:
        """Close an eye's pipes and snapshots (it left, or its Session ended)."""
        held = self.eyes.pop(session_id, None)
        if held is not None:
            held[1].close()
        self.given.discard(session_id)

    def close(self) -> None:
        for session_id in list(self.eyes):
            self.forget(session_id)

    def _routes_of(self, connection: int, session_id: str) -> EyeRoutes | None:
        """The routes `connection` may change: None if a newer Session has replaced it."""
        held = self.eyes.get(session_id)
        if held is not None and held[0] > connection:
            return None
        if held is None or held[0] < connection:  # a new Session (or one restarted)
            self.forget(session_id)
            held = self.eyes[session_id] = (connection, EyeRoutes(self.kept))
        return held[1]
