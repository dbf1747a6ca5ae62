"""The outside services the suite needs: a missing one fails under CI=true, else skips."""

from __future__ import annotations

import os
import socket

import pytest

CI = os.environ.get("CI", "").lower() == "true"


def missing(service: str, why: str) -> None:
    """Fail (CI=true) or skip the test that needs a service that is not there, saying why."""
    message = f"{service} is not available: {why}"
    if CI:
        pytest.fail(message + " (CI=true: a missing service fails the run)")
    pytest.skip(message)


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
