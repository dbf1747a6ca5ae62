"""The kinds of refusal the access workflows share; the portal answers them 404 and 409."""

from __future__ import annotations

from archive.errors import Refused


class NotFound(Refused):
    """An unknown case or request (404)."""


class Conflict(Refused):
    """A request or grant not in a state that allows the step (409)."""
