"""Single sign-on identities: ID-token claims mapped to a casevault role, and the user they name.

Configuration (`CASEVAULT_OIDC_ROLE_MAP`) maps an identity-provider group to an assignment:

    {"archive-staff": "archivist",
     "archive-staff-secret": "archivist clearance=secret",
     "legal-office": "supervisor department=legal"}

The value is a role, optionally followed by `department=…` (supervisors must have one, nobody
else may) and `clearance=…` (default `none`). `applicant` cannot be assigned: applicants use the
public portal. A user whose groups map to no role is refused; groups that map to two different
roles, or to two supervisory departments, are refused as ambiguous; the highest clearance of
the matching groups wins.

A single sign-on user is found by `sso_subject` = `"{issuer}|{sub}"` only — never by username
or e-mail, so an identity-provider account can never take over a local account. The first
sign-in creates the user (password-less, so it cannot sign in locally); every later sign-in
brings role, department and clearance up to date with the identity provider, and a change ends
the user's other sessions and tokens.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import identities, ledger
from access.models import Clearance, Department, Role, User

ACTOR = "sso"
_CLEARANCE_ORDER = list(Clearance)
_MAX_SUBJECT = 256


class SsoMisconfigured(ValueError):
    """The single sign-on configuration is unusable; the message names the setting."""


class SsoRefused(Exception):
    """A sign-in the configuration does not allow; `rule` names the rule, the message says why."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


@dataclass(frozen=True)
class Assignment:
    """What a group grants: a role, a supervisory department and a state-secret clearance."""

    role: Role
    department: Department | None = None
    clearance: Clearance = Clearance.none


@dataclass(frozen=True)
class Matched:
    """The assignment a user's groups give, and which of the groups gave it."""

    assignment: Assignment
    groups: tuple[str, ...]


def parse_assignment(group: str, value: str) -> Assignment:
    """One role-map value: `role [department=D] [clearance=G]`."""
    where = f"CASEVAULT_OIDC_ROLE_MAP[{group!r}]"
    words = value.replace(",", " ").split()
    if not words:
        raise SsoMisconfigured(f"{where}: empty; expected a role")
    role_name, options = words[0], words[1:]
    if role_name not in Role.__members__:
        raise SsoMisconfigured(f"{where}: unknown role {role_name!r}; one of {', '.join(Role)}")
    role = Role(role_name)
    if role == Role.applicant:
        raise SsoMisconfigured(f"{where}: applicants use the public portal and cannot sign in here")
    department: Department | None = None
    clearance = Clearance.none
    for option in options:
        key, sep, val = option.partition("=")
        if not sep:
            raise SsoMisconfigured(f"{where}: {option!r} is not key=value")
        if key == "department" and val in Department.__members__:
            department = Department(val)
        elif key == "department":
            raise SsoMisconfigured(f"{where}: unknown department {val!r}; one of {', '.join(Department)}")
        elif key == "clearance" and val in Clearance.__members__:
            clearance = Clearance(val)
        elif key == "clearance":
            raise SsoMisconfigured(f"{where}: unknown clearance {val!r}; one of {', '.join(Clearance)}")
        else:
            raise SsoMisconfigured(f"{where}: unknown option {key!r}; department= or clearance=")
    if role == Role.supervisor and department is None:
        raise SsoMisconfigured(f"{where}: supervisors need department=; one of {', '.join(Department)}")
    if role != Role.supervisor and department is not None:
        raise SsoMisconfigured(f"{where}: only supervisors belong to a supervisory department")
    return Assignment(role=role, department=department, clearance=clearance)


def parse_role_map(raw: Mapping[str, str]) -> dict[str, Assignment]:
    """The whole role map, checked; an empty map is refused (nobody could sign in)."""
    if not raw:
        raise SsoMisconfigured("CASEVAULT_OIDC_ROLE_MAP: empty; map at least one group to a role")
    return {group: parse_assignment(group, value) for group, value in raw.items()}


def claim_value(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested objects (`realm_access.roles`)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def groups_of(claims: Mapping[str, Any], roles_claim: str) -> list[str]:
    """The groups a claim lists: a list of strings, or one string; anything else is no group."""
    value = claim_value(claims, roles_claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def assign(claims: Mapping[str, Any], *, roles_claim: str, role_map: Mapping[str, Assignment]) -> Matched:
    """The assignment the user's groups give; refused when none maps or they disagree."""
    groups = groups_of(claims, roles_claim)
    matched = [(group, role_map[group]) for group in groups if group in role_map]
    if not matched:
        shown = ", ".join(sorted(groups)[:20]) or "none"
        raise SsoRefused(
            "sso_role_map",
            f"your identity-provider groups ({shown}) are not mapped to any casevault role; "
            "ask the security administrator to map your group in CASEVAULT_OIDC_ROLE_MAP",
        )
    roles = sorted({a.role.value for _, a in matched})
    if len(roles) > 1:
        raise SsoRefused(
            "sso_role_map",
            f"your identity-provider groups map to more than one role ({', '.join(roles)}); "
            "a casevault user has exactly one role",
        )
    departments = sorted({a.department.value for _, a in matched if a.department is not None})
    if len(departments) > 1:
        raise SsoRefused(
            "sso_role_map",
            f"your identity-provider groups map to more than one department ({', '.join(departments)})",
        )
    clearance = max((a.clearance for _, a in matched), key=_CLEARANCE_ORDER.index)
    assignment = Assignment(
        role=matched[0][1].role,
        department=Department(departments[0]) if departments else None,
        clearance=clearance,
    )
    return Matched(assignment=assignment, groups=tuple(sorted({g for g, _ in matched})))


def subject_key(issuer: str, sub: str) -> str:
    """The stored identity of a single sign-on user: issuer and subject together."""
    key = f"{issuer}|{sub}"
    if not sub or len(key) > _MAX_SUBJECT:
        raise SsoRefused("sso_subject", "the identity provider's subject identifier is empty or too long")
    return key


def _slug(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).strip().lower()
    text = re.sub(r"[^a-z0-9_.-]+", "-", text)
    return re.sub(r"^[^a-z0-9]+", "", text)[:64].rstrip("-")


def username_for(session: Session, claims: Mapping[str, Any], *, sso_subject: str) -> str:
    """A free, valid username: the IdP's preferred username or e-mail name, else one from the subject."""
    digest = hashlib.sha256(sso_subject.encode()).hexdigest()
    candidates: list[str] = []
    for claim in ("preferred_username", "email"):
        value = claims.get(claim)
        if isinstance(value, str) and value:
            slug = _slug(value.split("@", 1)[0])
            if slug:
                candidates += [slug, f"{slug[:56]}-{digest[:7]}"]
    candidates.append(f"sso-{digest[:16]}")
    for name in candidates:
        if identities.USERNAME.match(name) and (
            session.scalar(select(User.id).where(User.username == name)) is None
        ):
            return name
    return f"sso-{digest[:32]}"


def _display_name(claims: Mapping[str, Any], fallback: str) -> str:
    name = claims.get("name")
    return name.strip()[:128] if isinstance(name, str) and name.strip() else fallback


def find_or_create(
    session: Session, *, issuer: str, claims: Mapping[str, Any], assignment: Assignment, now: datetime
) -> tuple[User, bool]:
    """The user these claims name (created on first sign-in, brought up to date after); the caller commits."""
    key = subject_key(issuer, str(claims.get("sub") or ""))
    user = session.scalar(select(User).where(User.sso_subject == key))
    if user is None:
        username = username_for(session, claims, sso_subject=key)
        user = identities.create_user(
            session,
            username=username,
            role=assignment.role.value,
            actor=ACTOR,
            now=now,
            display_name=_display_name(claims, username),
            clearance=assignment.clearance.value,
            department=assignment.department.value if assignment.department else None,
            sso_subject=key,
        )
        return user, True
    if user.disabled:
        raise SsoRefused("account_disabled", f"the casevault account {user.username!r} is disabled")
    before: dict[str, str | None] = {
        "role": user.role,
        "department": user.department,
        "clearance": user.clearance,
    }
    role, clearance = assignment.role.value, assignment.clearance.value
    department = assignment.department.value if assignment.department else None
    after: dict[str, str | None] = {"role": role, "department": department, "clearance": clearance}
    if before != after:
        user.role, user.department, user.clearance = role, department, clearance
        user.token_version += 1  # sessions and tokens issued with the old rights stop working
        ledger.append(
            session,
            actor=ACTOR,
            action="user.sso_update",
            outcome="ok",
            at=now,
            detail={"username": user.username, "before": before, "after": after},
        )
    return user, False
