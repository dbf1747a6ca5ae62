"""The account API's bodies (`portal.internal.identity.api`): what the security administrator
sends, and the accounts as they are answered — never with a password or its hash."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portal.internal.identity.operations import REASON_MAX
from portal.web.schemas import Body, Timestamp

StaffRole = Literal[
    "archivist",
    "archive_manager",
    "supervisor",
    "disclosure_officer",
    "security_auditor",
    "security_admin",
    "sysadmin",
]
Grade = Literal["none", "confidential", "secret", "top_secret"]
Dept = Literal["superior", "supervision", "legal", "petition"]


class Account(Body):
    """One account: role, department, clearance and state; `password` says only whether one is set."""

    username: str
    display_name: str
    role: str
    department: str | None
    clearance: str
    disabled: bool
    locked: bool
    sso: bool
    password: bool
    created_at: Timestamp


class Accounts(Body):
    """`GET /api/v1/users`: every account, by username."""

    users: list[Account]


class NewAccount(BaseModel):
    """A new staff account, and why it is made. Without a password it signs in by single sign-on only."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=64)
    role: StaffRole
    reason: str = Field(min_length=1, max_length=REASON_MAX)
    password: str | None = Field(None, max_length=1024)
    display_name: str | None = Field(None, max_length=128)
    department: Dept | None = None
    clearance: Grade = "none"


class AccountChange(BaseModel):
    """What changes on an account (only the fields sent), and why."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=REASON_MAX)
    role: StaffRole | None = None
    department: Dept | None = None
    clearance: Grade | None = None
    disabled: bool | None = None
    password: str | None = Field(None, max_length=1024)
