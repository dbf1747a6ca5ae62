"""A ledger outsiders can witness: consistency proofs, checkpoint notes and witness cosignatures.

A consistency proof (RFC 9162 §2.1.4) shows that the tree of the first `m` entries is a prefix
of the tree of the first `n`: nothing signed earlier was changed or dropped. Each signed
checkpoint also gets its C2SP note form (`access.notes`), kept in `ledger_notes` so the public
portal, which holds no signing key, can publish it. Witnesses (`tlog-witness` add-checkpoint)
are sent each new checkpoint with a proof from the last one they cosigned; they cosign only a
consistent one, and their cosignatures are kept in `ledger_cosignatures`.
"""

from __future__ import annotations

import base64
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from access import notes
from access.checkpoints import (
    CheckpointInvalid,
    LedgerCheckpoint,
    LedgerTampered,
    leaf_hash,
    merkle_root,
    node_hash,
    verified_claims,
)
from access.errors import Conflict, NotFound
from access.ledger import LedgerEntry
from archive.db import Base, UTCDateTime

log = logging.getLogger(__name__)
MAX_PROOF = 63  # hashes; a tree of up to 2^62 entries needs fewer
WITNESS_TIMEOUT = 10.0  # seconds for one add-checkpoint call


class LedgerNote(Base):
    """A checkpoint in the C2SP signed-note form, signed with the archive's Ed25519 key."""

    __tablename__ = "ledger_notes"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    note: Mapped[str] = mapped_column(Text)


class LedgerCosignature(Base):
    """A witness's cosignature on a checkpoint, as its note signature line."""

    __tablename__ = "ledger_cosignatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    witness: Mapped[str] = mapped_column(String(255))
    key_id: Mapped[str] = mapped_column(String(8))
    cosigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    line: Mapped[str] = mapped_column(Text)


# --- consistency proofs (RFC 9162 §2.1.4) ------------------------------------------------------


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def consistency_path(*, first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The consistency proof from the tree of `first` leaves to the tree of all of them."""
    second = len(leaves)
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second} entries")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    low, high, m, whole = 0, second, first, True
    # SUBPROOF(m, D[low:high], whole), unrolled: the nodes are gathered top down, then reversed.
    while m != high - low:
        k = _split(high - low)
        if m <= k:
            proof.append(merkle_root(leaves[low + k : high]))
            high = low + k
        else:
            proof.append(merkle_root(leaves[low : low + k]))
            low, m, whole = low + k, m - k, False
    if not whole:
        proof.append(merkle_root(leaves[low:high]))
    proof.reverse()
    return proof


def verify_consistency(
    *, first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof between two tree heads, per RFC 9162 §2.1.4.2."""
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def stored_leaves(session: Session, *, upto: int) -> list[bytes]:
    """Leaf hashes of entries 1..upto from their stored hashes only; refuses a gap."""
    query = select(LedgerEntry.entry_hash).where(LedgerEntry.seq.between(1, upto)).order_by(LedgerEntry.seq)
    leaves: list[bytes] = []
    for part in session.connection().execute(query.execution_options(yield_per=20_000)).partitions():
        leaves.extend([leaf_hash(stored) for (stored,) in part])
    if len(leaves) != upto:
        raise LedgerTampered(f"ledger entries are missing below {upto}; run `casevault ledger verify`")
    return leaves


@dataclass(frozen=True)
class ConsistencyProof:
    """A checked consistency proof between the tree of `first` entries and a signed checkpoint."""

    first: int
    second: int
    first_root: bytes
    second_root: bytes
    path: list[bytes]

    def as_json(self) -> dict[str, Any]:
        """The API's view: sizes, both roots and the proof's hashes, in hex."""
        return {
            "from_size": self.first,
            "to_size": self.second,
            "from_root": self.first_root.hex(),
            "to_root": self.second_root.hex(),
            "proof": [node.hex() for node in self.path],
        }


def consistency_proof(session: Session, *, first: int, checkpoint: LedgerCheckpoint) -> ConsistencyProof:
    """The proof from entry count `first` to a checkpoint, checked against every signed root it touches.

    Raises ValueError for sizes out of order and LedgerTampered when the stored entries no longer
    lead to the checkpoint's root (or to the root of one signed at `first`).
    """
    second = checkpoint.tree_size
    if not 1 <= first <= second:
        raise ValueError(f"from must be between 1 and the checkpoint's {second} entries")
    leaves = stored_leaves(session, upto=second)
    second_root = merkle_root(leaves)
    if second_root.hex() != checkpoint.root_hash:
        raise LedgerTampered(
            f"the ledger no longer matches the checkpoint at {second} entries; run `casevault ledger verify`"
        )
    first_root = merkle_root(leaves[:first])
    earlier = session.get(LedgerCheckpoint, first)
    if earlier is not None and earlier.root_hash != first_root.hex():
        raise LedgerTampered(
            f"the ledger no longer matches the checkpoint at {first} entries; run `casevault ledger verify`"
        )
    path = consistency_path(first=first, leaves=leaves)
    return ConsistencyProof(first, second, first_root, second_root, path)


def prove(session: Session, *, first: int, second: int) -> ConsistencyProof:
    """The checked proof from `first` entries to the checkpoint at `second`, for either door.

    Raises NotFound when no checkpoint has that size, Conflict when the stored entries no longer
    match a signed root, and ValueError when `first` is past `second`.
    """
    if first > second:
        raise ValueError(f"from ({first}) is past to ({second})")
    checkpoint = session.get(LedgerCheckpoint, second)
    if checkpoint is None:
        raise NotFound(f"no checkpoint at tree size {second}")
    try:
        return consistency_proof(session, first=first, checkpoint=checkpoint)
    except LedgerTampered as exc:
        raise Conflict(str(exc)) from exc


# --- checkpoint notes --------------------------------------------------------------------------


def note_text(checkpoint: LedgerCheckpoint, *, origin: str) -> str:
    """A checkpoint's C2SP note text."""
    return notes.checkpoint_text(
        origin=origin, tree_size=checkpoint.tree_size, root=bytes.fromhex(checkpoint.root_hash)
    )


def write_notes(session: Session, *, key: notes.NoteKey, jwks: Mapping[str, Any]) -> list[int]:
    """Sign, in note form, every checkpoint that has none yet; the caller commits. Their sizes.

    Only a checkpoint whose JWS verifies and agrees with its row is put in note form, so the note
    never vouches for more than the archive key already signed.
    """
    query = (
        select(LedgerCheckpoint)
        .outerjoin(LedgerNote, LedgerNote.tree_size == LedgerCheckpoint.tree_size)
        .where(LedgerNote.tree_size.is_(None))
        .order_by(LedgerCheckpoint.tree_size)
    )
    written = []
    for checkpoint in session.scalars(query):
        try:
            _, claims = verified_claims(checkpoint.signature, jwks=jwks)
        except CheckpointInvalid:
            continue
        if (claims.get("tree_size"), claims.get("root_hash")) != (checkpoint.tree_size, checkpoint.root_hash):
            continue
        text = note_text(checkpoint, origin=key.name)
        session.add(
            LedgerNote(tree_size=checkpoint.tree_size, note=notes.signed_note(text, key.signature_line(text)))
        )
        written.append(checkpoint.tree_size)
    return written


def check_notes(
    session: Session, *, key: notes.Verifier, retired: Sequence[notes.RetiredKey]
) -> tuple[int, str] | None:
    """(tree size, why) of the first checkpoint note that does not hold, else None.

    Each note must be its checkpoint's text signed by the current checkpoint key or by one rotated
    out, and a retired key only for a checkpoint made before it was retired.
    """
    until: dict[notes.Verifier, datetime | None] = {key: None}
    until |= {r.verifier: r.retired_at for r in retired}
    query = select(LedgerNote, LedgerCheckpoint).join(
        LedgerCheckpoint, LedgerCheckpoint.tree_size == LedgerNote.tree_size, isouter=True
    )
    for row, checkpoint in session.execute(query.order_by(LedgerNote.tree_size)):
        if checkpoint is None:
            return row.tree_size, "a checkpoint note without its checkpoint"
        try:
            text, signatures = notes.split_note(row.note)
        except notes.NoteInvalid as exc:
            return row.tree_size, f"its note: {exc}"
        signer = next(
            (v for s in signatures for v in until if (s.name, s.key_id) == (v.name, v.key_id)), None
        )
        if signer is None:
            return row.tree_size, "its note is signed by no checkpoint key of this archive"
        try:
            notes.verify_note(row.note, signer)
        except notes.NoteInvalid as exc:
            return row.tree_size, f"its note: {exc}"
        if text != note_text(checkpoint, origin=signer.name):
            return row.tree_size, "its note's text is not the checkpoint's"
        retired_at = until[signer]
        if retired_at is not None and checkpoint.created_at > retired_at:
            signer_was = f"checkpoint key {signer.key_id.hex()}, retired at {retired_at.isoformat()}"
            return row.tree_size, f"its note is signed by {signer_was}"
    return None


def cosignature_lines(session: Session, *, tree_size: int) -> list[str]:
    """The stored cosignature lines on one checkpoint, oldest first."""
    query = select(LedgerCosignature.line).where(LedgerCosignature.tree_size == tree_size)
    return list(session.scalars(query.order_by(LedgerCosignature.id)))


def published_note(session: Session, *, tree_size: int, note: str) -> str:
    """A checkpoint's note with the witnesses' cosignature lines after the archive's signature."""
    return note + "".join(
        line for line in cosignature_lines(session, tree_size=tree_size) if line not in note
    )


# --- the archive's side of add-checkpoint ------------------------------------------------------


@dataclass(frozen=True)
class Witness:
    """A witness the archive sends its checkpoints to: where, and the key its cosignatures carry."""

    url: str
    key: notes.Verifier


def parse_witnesses(text: str) -> list[Witness]:
    """`URL VKEY,URL VKEY,…` (the witness's cosigning key, type 0x04); raises ValueError."""
    found = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        url, _, vkey = item.partition(" ")
        if not url.startswith(("http://", "https://")) or not vkey.strip():
            raise ValueError(f"CASEVAULT_WITNESSES: {item!r} is not 'URL VKEY'")
        try:
            key = notes.parse_vkey(vkey)
        except notes.NoteInvalid as exc:
            raise ValueError(f"CASEVAULT_WITNESSES: {exc}") from exc
        if key.kind != notes.COSIGNATURE_V1:
            raise ValueError(f"CASEVAULT_WITNESSES: {key.name}'s key is not a cosignature key (type 0x04)")
        found.append(Witness(url.rstrip("/"), key))
    return found


@dataclass(frozen=True)
class WitnessAnswer:
    """What one witness said to one checkpoint: cosigned, or refused with its status and words."""

    witness: str
    tree_size: int
    cosigned: bool
    status: int | None
    message: str


def last_cosigned(session: Session, *, witness: Witness) -> int:
    """The largest tree size this witness's key cosigned, as recorded here (0: never)."""
    query = select(func.max(LedgerCosignature.tree_size)).where(
        LedgerCosignature.witness == witness.key.name, LedgerCosignature.key_id == witness.key.key_id.hex()
    )
    return int(session.scalar(query) or 0)


def _request_body(session: Session, *, old: int, checkpoint: LedgerCheckpoint, note: str) -> bytes:
    path: list[bytes] = []
    if 0 < old < checkpoint.tree_size:
        path = consistency_proof(session, first=old, checkpoint=checkpoint).path
    proof = "".join(base64.b64encode(node).decode() + "\n" for node in path)
    return f"old {old}\n{proof}\n{note}".encode()


def _post(url: str, body: bytes) -> tuple[int, str, str]:
    request = urllib.request.Request(
        f"{url}/add-checkpoint", data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    try:
        with urllib.request.urlopen(request, timeout=WITNESS_TIMEOUT) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read(1 << 16).decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read(1 << 16).decode(errors="replace")


def submit(session: Session, *, witness: Witness, checkpoint: LedgerCheckpoint, note: str) -> WitnessAnswer:
    """Send a checkpoint to a witness (add-checkpoint), keep the cosignature it gives; the caller commits.

    The proof starts at the size this witness last cosigned; if the witness remembers another
    size (409 with its size) the call is made once more from that size, when it is not past
    this checkpoint. Network failures are answers too (status None), retried next round.
    """
    size = checkpoint.tree_size

    def answer(cosigned: bool, status: int | None, message: str) -> WitnessAnswer:
        return WitnessAnswer(witness.key.name, size, cosigned, status, message)

    old = min(last_cosigned(session, witness=witness), size)
    try:
        for _attempt in range(2):
            body = _request_body(session, old=old, checkpoint=checkpoint, note=note)
            session.rollback()  # no transaction held open across the network call
            status, kind, text = _post(witness.url, body)
            if status == 409 and kind.startswith("text/x.tlog.size") and text.strip().isdigit():
                remembered = int(text.strip())
                if remembered != old and remembered <= size:
                    old = remembered
                    continue
                return answer(False, status, f"the witness has cosigned {remembered} entries; refused {size}")
            break
    except (urllib.error.URLError, OSError) as exc:
        return answer(False, None, f"unreachable: {exc}")
    if status != 200:
        return answer(False, status, text.strip()[:500] or f"HTTP {status}")
    text_of_note = notes.split_note(note)[0]
    for line in text.splitlines():
        try:
            signature = notes.parse_signature_line(line)
            cosigned_at = notes.verify_cosignature(text_of_note, signature, witness.key)
        except notes.NoteInvalid:
            continue  # another key's line, or one that does not verify: ignored
        session.add(
            LedgerCosignature(
                tree_size=size,
                witness=witness.key.name,
                key_id=witness.key.key_id.hex(),
                cosigned_at=datetime.fromtimestamp(cosigned_at, UTC),
                line=signature.line,
            )
        )
        return answer(True, status, f"cosigned {size} entries")
    return answer(False, status, "the answer carries no valid cosignature by the witness's key")


# (witness URL, key ID) → (tree size, when, refused outright) of the last attempt that got no
# cosignature, so a witness that refuses or is down is not sent the same checkpoint (and the
# proof, which reads every entry hash, is not recomputed) every housekeeping round.
_UNANSWERED: dict[tuple[str, bytes], tuple[int, float, bool]] = {}
RETRY_SECONDS = 600.0


def _skip(witness: Witness, tree_size: int) -> bool:
    last = _UNANSWERED.get((witness.url, witness.key.key_id))
    if last is None or last[0] != tree_size:
        return False
    return last[2] or time.monotonic() - last[1] < RETRY_SECONDS


def submit_latest(
    session: Session, *, witnesses: Sequence[Witness], retry: bool = False
) -> list[WitnessAnswer]:
    """Send the newest noted checkpoint to each witness that has not cosigned it; commits each cosignature.

    A checkpoint a witness refused is not sent to it again, nor one it did not answer within
    `RETRY_SECONDS`, unless `retry` (the command line's `ledger checkpoint`).
    """
    latest = session.scalars(select(LedgerNote).order_by(LedgerNote.tree_size.desc()).limit(1)).first()
    if latest is None:
        return []
    checkpoint = session.get(LedgerCheckpoint, latest.tree_size)
    if checkpoint is None:
        return []
    answers = []
    for witness in witnesses:
        if last_cosigned(session, witness=witness) >= latest.tree_size:
            continue
        if not retry and _skip(witness, latest.tree_size):
            continue
        answer = submit(session, witness=witness, checkpoint=checkpoint, note=latest.note)
        session.commit()
        key = (witness.url, witness.key.key_id)
        if answer.cosigned:
            _UNANSWERED.pop(key, None)
        else:
            refused = answer.status is not None and 400 <= answer.status < 500
            _UNANSWERED[key] = (latest.tree_size, time.monotonic(), refused)
            log.warning(
                "witness %s did not cosign %d entries: %s", answer.witness, answer.tree_size, answer.message
            )
        answers.append(answer)
    return answers


# --- what verification reports -------------------------------------------------------------------


@dataclass(frozen=True)
class CosignatureReport:
    """One stored cosignature and whether it holds against the configured witness key and the checkpoint."""

    witness: str
    tree_size: int
    cosigned_at: datetime
    valid: bool
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        """The `ledger verify` view."""
        return {
            "witness": self.witness,
            "tree_size": self.tree_size,
            "cosigned_at": self.cosigned_at.astimezone(UTC).isoformat(timespec="seconds"),
            "valid": self.valid,
            "reason": self.reason,
        }


def check_cosignatures(
    session: Session, *, origin: str, witnesses: Sequence[Witness]
) -> list[CosignatureReport]:
    """Every stored cosignature, checked against its witness's configured key and its checkpoint's root."""
    keys = {(w.key.name, w.key.key_id.hex()): w.key for w in witnesses}
    reports = []
    query = select(LedgerCosignature).order_by(LedgerCosignature.tree_size, LedgerCosignature.id)
    for row in session.scalars(query):
        checkpoint = session.get(LedgerCheckpoint, row.tree_size)
        reason: str | None = None
        key = keys.get((row.witness, row.key_id))
        if checkpoint is None:
            reason = f"no checkpoint at {row.tree_size} entries"
        elif key is None:
            reason = "not a configured witness key"
        else:
            try:
                signature = notes.parse_signature_line(row.line)
                notes.verify_cosignature(note_text(checkpoint, origin=origin), signature, key)
            except notes.NoteInvalid as exc:
                reason = str(exc)
        reports.append(CosignatureReport(row.witness, row.tree_size, row.cosigned_at, reason is None, reason))
    return reports
