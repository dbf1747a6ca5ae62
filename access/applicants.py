"""Applicants (申请人): self-registration on the public portal, and what the office may see of them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from access import fields, id_numbers, identities, ledger
from access.models import Applicant, Role, User
from archive.errors import Refused

LIMITS = {"name": 128, "phone": 32, "email": 254, "address": 512}
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,30}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Names the ledger and the pages use for the office itself: no applicant may take them.
RESERVED_USERNAMES = frozenset(
    {"system", "office", "anonymous", "admin", "administrator", "root", "casevault"}
)


def _field(field: str, value: str | None, *, required: bool = True) -> str:
    return fields.text(field, value, limit=LIMITS[field], required=required)


def register_applicant(
    session: Session,
    *,
    username: str,
    password: str,
    name: str,
    id_type: str,
    id_number: str,
    phone: str,
    email: str,
    address: str | None,
    id_number_key: X25519PublicKey,
    now: datetime,
    source: str | None = None,
) -> Applicant:
    """A new applicant account; the ID number is sealed and only its masked form kept in the clear."""
    if username.strip().lower() in RESERVED_USERNAMES:
        raise Refused(f"username: {username.strip().lower()!r} is reserved", code="account.reserved")
    name = _field("name", name)
    number = id_numbers.normalise(id_type, id_number)
    phone = _field("phone", phone)
    if not _PHONE.match(phone):
        raise Refused("phone: digits, optionally with +, spaces or hyphens", code="applicant.phone")
    email = _field("email", email)
    if not _EMAIL.match(email):
        raise Refused("email: not an email address", code="applicant.email")
    user = identities.create_user(
        session,
        username=username,
        role=Role.applicant.value,
        actor=username.strip().lower(),
        now=now,
        password=password,
        display_name=name,
    )
    applicant = Applicant(
        user_id=user.id,
        name=name,
        id_type=id_type,
        id_number_sealed=id_numbers.seal(number, key=id_number_key, username=user.username),
        id_number_masked=id_numbers.mask(number),
        phone=phone,
        email=email,
        address=_field("address", address, required=False) or None,
        created_at=now,
    )
    session.add(applicant)
    session.flush()
    ledger.append(
        session,
        actor=user.username,
        action="applicant.register",
        outcome="ok",
        source=source,
        at=now,
        detail={"id_type": id_type},
    )
    return applicant


def applicant_of(session: Session, user: User | int) -> Applicant:
    """The applicant record of an applicant account."""
    user_id = user if isinstance(user, int) else user.id
    found = session.scalar(select(Applicant).where(Applicant.user_id == user_id))
    if found is None:
        raise Refused("user: not an applicant account")
    return found


def reseal_id_numbers(session: Session, *, keys: Sequence[X25519PrivateKey], to: X25519PrivateKey) -> int:
    """Seal to `to` every applicant's ID number not sealed to it yet, opening each with `to` or one of
    `keys`; how many were sealed anew. The caller commits; `Refused` naming the applicant whose number
    no key opens, and then nothing is to be committed."""
    opening = [to, *keys]
    resealed = 0
    query = select(Applicant).options(joinedload(Applicant.user)).order_by(Applicant.id)
    for applicant in session.scalars(query):
        username, sealed = applicant.user.username, applicant.id_number_sealed
        try:
            number, index = id_numbers.unseal_with(sealed, keys=opening, username=username)
        except ValueError as exc:
            raise Refused(
                f"applicant {username}: the sealed ID number opens with no key this archive holds; "
                "nothing was re-sealed"
            ) from exc
        if index > 0:
            applicant.id_number_sealed = id_numbers.seal(number, key=to.public_key(), username=username)
            resealed += 1
    session.flush()
    return resealed
