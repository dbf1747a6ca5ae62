"""The outside services the suite needs: a missing one fails under CI=true, else skips."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import httpx
import pytest

CI = os.environ.get("CI", "").lower() == "true"
# The PostgreSQL server the database tests make their schemas in.
PG_URL = os.environ.get("CASEVAULT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


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


def first_answer(url: str, server: subprocess.Popen[str], *, within: float = 30) -> httpx.Response:
    """The first answer of a server process still starting up; its error output should it exit."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stderr.read() if server.stderr else ""
            pytest.fail(f"the server exited {server.returncode}:\n{output}")
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {within:.0f} s")
