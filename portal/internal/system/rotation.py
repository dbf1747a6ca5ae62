"""Key rotation (`casevault keys rotate`): a new current key for each kind, the old one retired so
everything it signed or sealed still verifies or opens, and every rotation in the ledger.

- `seal`: the ES256 archive key that signs seals, checkpoints, certificates and evidence packages
  (`archive.seal.Keyring`); old public keys stay in the JWKS with the time they were retired.
- `checkpoint`: the Ed25519 key that signs checkpoints as C2SP notes (`access.notes`); the old
  verifier key is kept so `ledger verify` still checks the notes it signed.
- `token`: the internal and the public portal's token secrets; tokens signed with the old one are
  accepted until they expire, then never (`access.tokens`).
- `id-number`: the X25519 key applicants' ID numbers are sealed to; every sealed number is sealed
  anew to the new key, after which the old private key is gone.

Each key file is written whole before anything points at it (`archive.keyfiles`), and the ledger
entry is committed right after the files change: a database that fails then is said with both key
ids, so the rotation can be recorded by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from access import applicants, id_numbers, ledger
from archive.errors import ArchiveError, Refused
from portal import wiring
from portal.wiring import Wired

KINDS = ("seal", "checkpoint", "token", "id-number")
# A registration that read the old ID-number key just before the new one was published may commit
# after a re-sealing pass has read the table: passes run until one finds nothing to re-seal.
RESEAL_PASSES = 5


class Unledgered(ArchiveError):
    """The key files were rotated but the database did not take the ledger entry."""


@dataclass(frozen=True)
class Rotation:
    """One key rotated: which, the old and new key ids, and what else the operator needs."""

    key: str
    old: str | None
    new: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The `keys rotate --json` view and the ledger entry's detail."""
        return {"key": self.key, "old": self.old, "new": self.new, **self.detail}


def _ledgered(wired: Wired, rotation: Rotation, *, actor: str, now: datetime) -> Rotation:
    """Ledger a rotation whose files are already in place."""
    try:
        with wired.sessions() as session:
            ledger.append(
                session, actor=actor, action="keys.rotate", outcome="ok", at=now, detail=rotation.as_json()
            )
            session.commit()
    except SQLAlchemyError as exc:
        raise Unledgered(
            f"the {rotation.key} key was rotated ({rotation.old} → {rotation.new}) but the database did not "
            f"take its ledger entry ({exc.__class__.__name__}); record it by hand"
        ) from exc
    return rotation


def rotate_seal(wired: Wired, *, actor: str) -> list[Rotation]:
    """A new archive key; the old one's public half stays in the JWKS, retired now."""
    old, new = wired.keyring.rotate(clock=wired.clock)
    return [_ledgered(wired, Rotation("seal", old, new), actor=actor, now=wired.clock())]


def rotate_checkpoint(wired: Wired, *, actor: str) -> list[Rotation]:
    """A new checkpoint note key; its verifier key is printed for witnesses and monitors."""
    old, new = wiring.rotate_ledger_note_key(wired.settings, clock=wired.clock)
    rotation = Rotation("checkpoint", old.key_id.hex(), new.key_id.hex(), {"vkey": new.vkey})
    return [_ledgered(wired, rotation, actor=actor, now=wired.clock())]


def rotate_token(wired: Wired, *, actor: str) -> list[Rotation]:
    """New secrets for both portals' tokens (those kept in the data dir); tokens signed before stay
    good until they expire."""
    now = wired.clock()
    done = []
    skipped = []
    for key, name in (("token", wiring.TOKEN_SECRET), ("public-token", wiring.PUBLIC_TOKEN_SECRET)):
        try:
            old, new = wiring.rotate_token_secret(wired.settings, name, now=now)
        except Refused as exc:
            skipped.append(str(exc))
            continue
        until = now + timedelta(minutes=wired.settings.token_minutes)
        rotation = Rotation(key, old, new, {"old_accepted_until": until.isoformat()})
        done.append(_ledgered(wired, rotation, actor=actor, now=now))
    if not done:
        raise Refused("; ".join(skipped))
    return done


def rotate_id_number(wired: Wired, *, actor: str) -> list[Rotation]:
    """A new ID-number key: published for the public portal first, every sealed number sealed anew
    to it (a ledgered transaction per pass), then put in place of the old private key."""
    settings = wired.settings
    old_public, new_public = wiring.stage_id_number_key(settings)
    old_key, new_key = wiring.id_number_private_keys(settings)
    rotation = Rotation(
        "id-number",
        id_numbers.key_id(old_public),
        id_numbers.key_id(new_public),
        {"public_key": id_numbers.public_key_text(new_public)},
    )
    total = 0
    for attempt in range(1, RESEAL_PASSES + 1):
        now = wired.clock()
        with wired.sessions() as session:
            resealed = applicants.reseal_id_numbers(session, keys=[old_key], to=new_key)
            if resealed or attempt == 1:
                detail = rotation.as_json() | {"resealed": resealed, "pass": attempt}
                ledger.append(session, actor=actor, action="keys.rotate", outcome="ok", at=now, detail=detail)
            session.commit()
        total += resealed
        if not resealed:
            break
    else:
        raise Refused(
            f"ID numbers were still being sealed to the old key after {RESEAL_PASSES} passes; "
            "run `casevault keys rotate id-number` again (both keys open them meanwhile)"
        )
    wiring.finish_id_number_key(settings)
    return [Rotation(rotation.key, rotation.old, rotation.new, rotation.detail | {"resealed": total})]


ROTATIONS: dict[str, Callable[..., list[Rotation]]] = {
    "seal": rotate_seal,
    "checkpoint": rotate_checkpoint,
    "token": rotate_token,
    "id-number": rotate_id_number,
}


def rotate(wired: Wired, *, kind: str, actor: str) -> list[Rotation]:
    """Rotate one kind of key (`KINDS`); Refused naming the kind when it is not one."""
    if kind not in ROTATIONS:
        raise Refused(f"KIND: {kind!r} is not one of {', '.join(KINDS)}")
    return ROTATIONS[kind](wired, actor=actor)

