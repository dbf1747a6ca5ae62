"""The internal app as the tests drive it: one user per role, the demo case deposited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from access import identities, ledger
from portal.wiring import Wired

PASSWORD = "correct horse battery staple"
ROLE_USERS = {
    "archivist": {},
    "archive_manager": {},
    "supervisor": {"department": "legal"},
    "disclosure_officer": {},
    "security_auditor": {},
    "security_admin": {},
    "sysadmin": {},
    "applicant": {},
}
# argon2id with test-sized cost: the same algorithm, a fraction of the time.
QUICK_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def username(role: str) -> str:
    """The user name the suite gives the user of a role."""
    return role.replace("_", "-")


def create_role_users(session: Session) -> None:
    """One user per role, each with PASSWORD (not committed)."""
    for role, extra in ROLE_USERS.items():
        identities.create_user(
            session,
            username=username(role),
            role=role,
            actor="test",
            now=datetime.now(UTC),
            password=PASSWORD,
            **extra,
        )


@dataclass
class Portal:
    """A running internal app with one user per role and the demo case deposited."""

    client: Any
    wired: Wired
    bundle_id: str
    tokens: dict[str, str]

    def token(self, role: str) -> str:
        """A fresh bearer token for the user of that role."""
        response = self.client.post("/api/v1/token", data={"username": username(role), "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def as_role(self, role: str) -> dict[str, str]:
        """Authorization header for the user of that role (token cached per test)."""
        if role not in self.tokens:
            self.tokens[role] = self.token(role)
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def append_entries(wired: Wired, count: int, *, at: Any = None) -> None:
    """Append `count` ordinary ledger entries in one transaction."""
    with wired.sessions() as session:
        for n in range(count):
            ledger.append(
                session,
                actor=f"user{n}",
                action="record.view",
                outcome="allowed",
                case_no="深民防罚〔2026〕1号",
                detail={"n": n},
                at=at,
            )
        session.commit()
