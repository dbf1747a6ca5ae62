"""Fuzzing from the OpenAPI documents: every operation of both apps, with inputs generated from its
schema, unauthenticated and with a token of each role, must never answer 5xx (the only check: a
4xx is the API refusing bad input, which is its job). Bounded: a few examples per operation, so
the whole file runs in about a minute."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from access import identities
from portal.app import create_app
from portal.cli.demo import case_document, write_sip
from portal.db import migrate
from portal.internal.archive import operations
from portal.settings import Settings
from portal.wiring import wire
from tests.support.portal import PASSWORD, QUICK_HASHER, ROLE_USERS

# Examples per operation and caller: enough to reach each operation's checks, cheap to repeat.
INTERNAL_EXAMPLES = 4
PUBLIC_EXAMPLES = 12  # the public API is small and is the one anyone can reach
INTERNAL_ROLES = [role for role in ROLE_USERS if role != "applicant"]


@dataclass
class Target:
    """One running archive (embedded database and store, the demo case deposited) and its tokens."""

    app: Any
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, footage: Path) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{root / 'casevault.db'}"
    migrate(url)
    wired = wire(Settings(data_dir=root / "var", database_url=url))
    with pytest.MonkeyPatch.context() as patch:
        # The module's users and sign-ins cost what every test's do (a sign-in would rehash at full cost).
        patch.setattr(identities, "_HASHER", QUICK_HASHER)
        with wired.sessions() as session:
            for role, extra in ROLE_USERS.items():
                name = role.replace("_", "-")
                now = datetime.now(UTC)
                identities.create_user(
                    session, username=name, role=role, actor="test", now=now, password=PASSWORD, **extra
                )
            session.commit()
        folder = write_sip(root / "sip", case_document(), footage=footage)
        operations.deposit(wired, folder=folder, actor="test")
        app = create_app(wired)
        client = TestClient(app, base_url="https://testserver")
        tokens = {}
        for role in ROLE_USERS:
            door = "/public/api/v1/token" if role == "applicant" else "/api/v1/token"
            answer = client.post(door, data={"username": role.replace("_", "-"), "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            tokens[role] = answer.json()["access_token"]
    yield Target(app=app, tokens=tokens)
    wired.engine.dispose()


def fuzz(schema: Any, headers: dict[str, str], *, examples: int) -> list[str]:
    """Run every operation of `schema`; the operations that answered 5xx (each with its failure)."""
    failed = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # collect them all: one report names every failing operation
            failed.append(f"{operation.method.upper()} {operation.path}: {exc}")
    return failed


@pytest.mark.parametrize("role", [None, *INTERNAL_ROLES])
def test_the_internal_api_never_answers_5xx(target: Target, role: str | None) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", target.app)
    headers = {"Authorization": f"Bearer {target.tokens[role]}"} if role else {}
    assert fuzz(schema, headers, examples=INTERNAL_EXAMPLES) == []


@pytest.mark.parametrize("role", [None, "applicant"])
def test_the_public_api_never_answers_5xx(target: Target, role: str | None) -> None:
    schema = schemathesis.openapi.from_asgi("/public/openapi.json", target.app)
    headers = {"Authorization": f"Bearer {target.tokens[role]}"} if role else {}
    assert fuzz(schema, headers, examples=PUBLIC_EXAMPLES) == []
