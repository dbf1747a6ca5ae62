"""Signed ledger checkpoints: Merkle tree heads over the entries, hashed as RFC 9162 prescribes.

A checkpoint commits to entries 1..tree_size. Its leaves are the entries' hashes in sequence
order (leaf hash = SHA-256(0x00 || entry hash), node hash = SHA-256(0x01 || left || right),
split at the largest power of two below the size, RFC 9162 §2.1.1). The root is signed with
the archive key as a compact ES256 JWS, so an inclusion proof (§2.1.3) shows that one entry
is in the signed ledger without revealing any other; `scripts/verify_inclusion.py` checks
one offline. Before signing, the new entries are verified and the previous checkpoint's root
is recomputed, so a checkpoint never vouches for entries that were already tampered with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jose import jws
from jose.exceptions import JOSEError
from sqlalchemy import BigInteger, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from access.ledger import (
    GENESIS,
    LedgerEntry,
    LedgerHead,
    canonical_json,
    canonical_time,
    hash_body,
    stored_entries,
)
from archive.db import Base, UTCDateTime
from archive.errors import ArchiveError, ObjectExists, ObjectMissing
from archive.seal import ALGORITHM, Keyring, SealInvalid, check_in_service, sign_jws, verify_jws
from archive.store import ObjectStore, put_bytes, read_bytes

LEDGER_NAME = "casevault"
STORE_PREFIX = "ledger/checkpoints/"  # each checkpoint's locked copy: <prefix><tree size>.json
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = hashlib.sha256(b"\x00")
_NODE = b"\x01"
_CHUNK = 1 << 12  # leaves hashed together into one perfect subtree before joining the frontier
_BATCH = 20_000


class LedgerCheckpoint(Base):
    """A signed tree head: the Merkle root over entries 1..tree_size."""

    __tablename__ = "ledger_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kid: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)

    def as_json(self) -> dict[str, Any]:
        """The API's view of a checkpoint, with its compact JWS."""
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "created_at": canonical_time(self.created_at),
            "kid": self.kid,
            "jws": self.signature,
        }


class CheckpointInvalid(ValueError):
    """A checkpoint whose signature, claims or root do not hold."""


class LedgerTampered(ArchiveError):
    """The ledger no longer matches what was verified or signed; nothing is signed over it."""


# --- Merkle hashing (RFC 9162 §2.1) -----------------------------------------------------------


def leaf_hash(entry_hash_hex: str) -> bytes:
    """The leaf hash of one entry: SHA-256(0x00 || the 32 bytes of its entry hash)."""
    digest = _LEAF.copy()
    digest.update(bytes.fromhex(entry_hash_hex))
    return digest.digest()


def _leaves(digests: Sequence[bytes]) -> list[bytes]:
    """Leaf hashes of entries given their hashes as bytes (no hex to parse)."""
    copy = _LEAF.copy
    leaves = []
    for digest in digests:
        leaf = copy()
        leaf.update(digest)
        leaves.append(leaf.digest())
    return leaves


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash over leaf hashes, computed level by level without recursion."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    sha256 = hashlib.sha256
    while len(level) > 1:
        # Pairing neighbours and carrying an odd last node up unchanged gives exactly the
        # RFC's split at the largest power of two below the size.
        paired = [
            sha256(_NODE + left + right).digest()
            for left, right in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class TreeBuilder:
    """Streaming Merkle Tree Hash: add leaf hashes in order, ask for the root at any size."""

    def __init__(self) -> None:
        self._frontier: list[tuple[int, bytes]] = []  # perfect subtrees (size, hash), largest first
        self._pending: list[bytes] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        self._pending.append(leaf)
        self.size += 1
        if len(self._pending) == _CHUNK:
            self._push(_CHUNK, merkle_root(self._pending))
            self._pending = []

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append many leaf hashes, a whole chunk at a time where they line up."""
        start = 0
        while start < len(leaves):
            take = min(_CHUNK - len(self._pending), len(leaves) - start)
            self._pending.extend(leaves[start : start + take])
            self.size += take
            start += take
            if len(self._pending) == _CHUNK:
                self._push(_CHUNK, merkle_root(self._pending))
                self._pending = []

    def _push(self, size: int, node: bytes) -> None:
        frontier = self._frontier
        while frontier and frontier[-1][0] == size:
            left_size, left = frontier.pop()
            node, size = node_hash(left, node), left_size + size
        frontier.append((size, node))

    def root(self) -> bytes:
        """The Merkle Tree Hash of the leaves added so far."""
        if self.size == 0:
            return EMPTY_ROOT
        # The frontier's subtrees are chunk-aligned, so the pending tail is the rightmost
        # subtree of the split and folds in last, from the right.
        node = merkle_root(self._pending) if self._pending else None
        for _, left in reversed(self._frontier):
            node = left if node is None else node_hash(left, node)
        assert node is not None
        return node


def inclusion_path(*, leaf_index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path for one leaf, per RFC 9162 §2.1.3.1 (deepest sibling first)."""
    if not 0 <= leaf_index < len(leaves):
        raise ValueError(f"leaf index {leaf_index} is outside a tree of {len(leaves)} leaves")
    path: list[bytes] = []
    low, high, index = 0, len(leaves), leaf_index
    while high - low > 1:
        k = _largest_power_of_two_below(high - low)
        if index < k:
            path.append(merkle_root(leaves[low + k : high]))
            high = low + k
        else:
            path.append(merkle_root(leaves[low : low + k]))
            low, index = low + k, index - k
    path.reverse()
    return path


def verify_inclusion(
    *, leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """Check an audit path against a root, per RFC 9162 §2.1.3.2."""
    if leaf_index >= tree_size or leaf_index < 0:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --- signing and checking ---------------------------------------------------------------------


def claims_of(*, tree_size: int, root_hash: str, created_at: datetime) -> dict[str, Any]:
    """The JSON payload a checkpoint's JWS signs."""
    return {
        "tree_size": tree_size,
        "root_hash": root_hash,
        "created_at": canonical_time(created_at),
        "ledger": LEDGER_NAME,
    }


def sign_checkpoint(
    *, tree_size: int, root_hash: str, created_at: datetime, keyring: Keyring
) -> LedgerCheckpoint:
    """A new checkpoint row signed with the archive's current key (not yet added to a session)."""
    payload = canonical_json(claims_of(tree_size=tree_size, root_hash=root_hash, created_at=created_at))
    kid, token = sign_jws(payload.encode(), keyring=keyring)
    return LedgerCheckpoint(
        tree_size=tree_size,
        root_hash=root_hash,
        created_at=created_at,
        kid=kid,
        signature=token.decode(),
    )


def verified_claims(token: str, *, jwks: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kid, claims) of a checkpoint JWS whose ES256 signature verifies against the JWKS, by a key
    not retired before the checkpoint's `created_at`."""
    try:
        kid, payload = verify_jws(token, jwks=jwks)
        claims = _claims(payload)
        check_in_service(jwks, kid=kid, signed_at=claims.get("created_at"))
    except SealInvalid as exc:
        raise CheckpointInvalid(str(exc)) from exc
    return kid, claims


def _unverified_claims(token: str) -> tuple[str, dict[str, Any]]:
    try:
        header = jws.get_unverified_header(token)
        payload = jws.get_unverified_claims(token)
    except JOSEError as exc:
        raise CheckpointInvalid(f"not a JWS ({exc})") from exc
    if header.get("alg") != ALGORITHM:
        raise CheckpointInvalid(f"algorithm {header.get('alg')!r} is not {ALGORITHM}")
    return str(header.get("kid")), _claims(payload)


def _claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = json.loads(payload)
    except ValueError as exc:
        raise CheckpointInvalid("the signed payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise CheckpointInvalid("the signed payload is not a JSON object")
    return claims


def check_checkpoint(
    checkpoint: LedgerCheckpoint, *, root: bytes | None, jwks: Mapping[str, Any] | None
) -> None:
    """Raise CheckpointInvalid unless signature, signed claims, row and recomputed root agree.

    Without a JWKS the signature itself cannot be checked; the signed claims still must match.
    """
    if jwks is None:
        kid, claims = _unverified_claims(checkpoint.signature)
    else:
        kid, claims = verified_claims(checkpoint.signature, jwks=jwks)
    expected = claims_of(
        tree_size=checkpoint.tree_size, root_hash=checkpoint.root_hash, created_at=checkpoint.created_at
    )
    if kid != checkpoint.kid:
        raise CheckpointInvalid(f"signed with key {kid!r}, recorded as {checkpoint.kid!r}")
    for name, value in expected.items():
        if claims.get(name) != value:
            raise CheckpointInvalid(f"signed {name} {claims.get(name)!r} differs from the recorded {value!r}")
    if root is None:
        raise CheckpointInvalid(f"covers {checkpoint.tree_size} entries, more than the ledger holds")
    if root.hex() != checkpoint.root_hash:
        raise CheckpointInvalid("root hash does not match the entries it covers")


# --- reading the ledger -----------------------------------------------------------------------


def latest(session: Session) -> LedgerCheckpoint | None:
    """The newest checkpoint, if any."""
    query = select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size.desc()).limit(1)
    return session.scalars(query).first()


def _stored_leaves(session: Session, *, upto: int, batch: int = _BATCH) -> list[bytes]:
    """Leaf hashes of entries 1..upto from their stored hashes; refuses a gap."""
    query = (
        select(LedgerEntry.entry_hash)
        .where(LedgerEntry.seq >= 1, LedgerEntry.seq <= upto)
        .order_by(LedgerEntry.seq)
        .execution_options(yield_per=batch)
    )
    leaves: list[bytes] = []
    # Core rows in whole partitions: the ORM's per-row overhead would dominate at 1 M entries.
    for part in session.connection().execute(query).partitions():
        leaves.extend([leaf_hash(stored) for (stored,) in part])
    # Sequence numbers are unique, so exactly `upto` of them in 1..upto means none is missing.
    if len(leaves) != upto:
        missing = _first_missing(session, upto=upto)
        raise LedgerTampered(f"ledger entry {missing} is missing; run `casevault ledger verify`")
    return leaves


def _first_missing(session: Session, *, upto: int) -> int:
    """The lowest sequence number in 1..upto that has no entry."""
    query = select(LedgerEntry.seq).where(LedgerEntry.seq.between(1, upto)).order_by(LedgerEntry.seq)
    expected = 1
    for seq in session.scalars(query):
        if seq != expected:
            break
        expected += 1
    return expected


def _verified_leaves(session: Session, *, after: int, upto: int, batch: int = _BATCH) -> Iterator[bytes]:
    """Leaf hashes of entries after..upto, each re-hashed and checked against its predecessor."""
    previous = GENESIS
    if after:
        previous = session.scalars(select(LedgerEntry.entry_hash).where(LedgerEntry.seq == after)).one()
    expected = after + 1
    for row in stored_entries(session, after=after, upto=upto, batch=batch):
        if row.seq != expected:
            reason = f"entry {expected} is missing"
        elif row.prev_hash != previous:
            reason = f"entry {row.seq} does not link to the entry before it"
        elif hash_body(row.body) != row.entry_hash:
            reason = f"entry {row.seq}: content does not match its hash"
        else:
            reason = None
        if reason:
            raise LedgerTampered(f"ledger {reason}; no checkpoint signed — run `casevault ledger verify`")
        previous = row.entry_hash
        expected += 1
        yield leaf_hash(previous)
    if expected != upto + 1:
        raise LedgerTampered(f"ledger entry {expected} is missing; no checkpoint signed")


# --- creating checkpoints ---------------------------------------------------------------------


def maybe_checkpoint(
    session: Session,
    *,
    keyring: Keyring,
    every_entries: int,
    every_minutes: int,
    now: datetime,
    force: bool = False,
) -> LedgerCheckpoint | None:
    """Sign a checkpoint over the whole ledger when it is due; the caller commits.

    Due means there are new entries and either at least `every_entries` of them or at least
    `every_minutes` since the last checkpoint (or, before the first, since the first entry);
    `force` signs whenever there is anything new. Raises LedgerTampered instead of signing
    over entries that no longer match the previous checkpoint or their own hashes.
    """
    head = session.get(LedgerHead, 1)
    size = head.seq if head else 0
    last = latest(session)
    covered = last.tree_size if last else 0
    if size <= covered:
        return None
    if not force and size - covered < every_entries:
        if last is not None:
            since: datetime | None = last.created_at
        else:
            since = session.scalars(select(LedgerEntry.at).where(LedgerEntry.seq == 1)).first()
        # (No first entry at all is tampering; the walk below names it.)
        if since is not None and now - since < timedelta(minutes=every_minutes):
            return None
    tree = TreeBuilder()
    if last is not None:
        tree.extend(_stored_leaves(session, upto=covered))
        try:
            check_checkpoint(last, root=tree.root(), jwks=keyring.jwks())
        except CheckpointInvalid as exc:
            raise LedgerTampered(
                f"checkpoint at {covered} entries: {exc}; no checkpoint signed — "
                "run `casevault ledger verify`"
            ) from exc
    tree.extend(list(_verified_leaves(session, after=covered, upto=size)))
    checkpoint = sign_checkpoint(tree_size=size, root_hash=tree.root().hex(), created_at=now, keyring=keyring)
    session.add(checkpoint)
    return checkpoint


# --- verifying all checkpoints during the chain walk ------------------------------------------


@dataclass(frozen=True)
class CheckpointFailure:
    """The first checkpoint that does not hold, and why."""

    tree_size: int
    reason: str


class CheckpointAudit:
    """Fed every entry's recomputed hash in order; checks each checkpoint as its size is reached."""

    def __init__(
        self,
        session: Session,
        *,
        jwks: Mapping[str, Any] | None,
        locked: Sequence[LedgerCheckpoint] = (),
    ) -> None:
        query = select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size)
        rows = {checkpoint.tree_size: checkpoint for checkpoint in session.scalars(query)}
        # The store's locked copies stand in for rows that are gone, and must equal those that are not.
        self._notes: dict[int, str] = {}
        for copy in locked:
            row = rows.setdefault(copy.tree_size, copy)
            if row is copy:
                self._notes[copy.tree_size] = "its row is missing; the locked copy in the store has it"
            elif row.as_json() != copy.as_json():
                self._notes[copy.tree_size] = "the database row differs from the locked copy in the store"
        self._pending = [rows[size] for size in sorted(rows, reverse=True)]  # popped smallest first
        self.checkpoints = len(self._pending)
        self._jwks = jwks
        self._tree = TreeBuilder()
        self._next = self._pending[-1].tree_size if self._pending else -1
        self.first_failure: CheckpointFailure | None = None

    @property
    def done(self) -> bool:
        """Past the last checkpoint: no tree left to build, nothing more to feed."""
        return self._next < 0

    def extend(self, digests: Sequence[bytes]) -> None:
        """Add the next entries: their hashes as recomputed from their content, 32 bytes each."""
        start = 0
        while self._next >= 0 and start < len(digests):
            # Up to the next checkpoint's size, whole; one that can never be reached (size 0 or
            # less) takes everything and is only checked at the end.
            due = self._next - self._tree.size
            take = len(digests) - start if due <= 0 else min(due, len(digests) - start)
            self._tree.extend(_leaves(digests[start : start + take]))
            start += take
            if self._tree.size == self._next:
                self._check_reached()

    def _check_reached(self) -> None:
        root = self._tree.root()
        while self._pending and self._pending[-1].tree_size == self._tree.size:
            self._check(self._pending.pop(), root)
        self._next = self._pending[-1].tree_size if self._pending else -1

    def _check(self, checkpoint: LedgerCheckpoint, root: bytes | None) -> None:
        if self.first_failure is not None:
            return
        try:
            check_checkpoint(checkpoint, root=root, jwks=self._jwks)
        except CheckpointInvalid as exc:
            self.first_failure = CheckpointFailure(checkpoint.tree_size, str(exc))
            return
        note = self._notes.get(checkpoint.tree_size)
        if note is not None:
            self.first_failure = CheckpointFailure(checkpoint.tree_size, note)

    def finish(self) -> CheckpointFailure | None:
        """Check the checkpoints beyond the last entry; the first failure, if any."""
        while self._pending:
            self._check(self._pending.pop(), None)
        return self.first_failure


# --- the locked copies in the archive store ---------------------------------------------------
#
# The database's owner can drop the triggers, cut the tail and delete the checkpoint rows that
# cover it. A copy of every checkpoint, written to the store under retention (Object Lock on S3)
# once its row has committed, is out of that owner's reach, and `verify_with_store` holds the
# database to the newest one.


def checkpoint_key(tree_size: int) -> str:
    """Where a checkpoint's locked copy lives in the archive store."""
    return f"{STORE_PREFIX}{tree_size}.json"


def _stored_form(checkpoint: LedgerCheckpoint) -> bytes:
    return canonical_json(checkpoint.as_json()).encode()


def _from_stored(key: str, data: bytes) -> LedgerCheckpoint:
    """A locked copy read back as a checkpoint (in no session); refuses what is not one."""
    try:
        body = json.loads(data)
        checkpoint = LedgerCheckpoint(
            tree_size=int(body["tree_size"]),
            root_hash=str(body["root_hash"]),
            created_at=datetime.fromisoformat(body["created_at"]),
            kid=str(body["kid"]),
            signature=str(body["jws"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise LedgerTampered(f"{key}: the locked copy is not a checkpoint ({exc})") from exc
    if checkpoint_key(checkpoint.tree_size) != key:
        raise LedgerTampered(f"{key}: the locked copy is of the checkpoint at {checkpoint.tree_size} entries")
    return checkpoint


def publish(store: ObjectStore, checkpoint: LedgerCheckpoint, *, retain_for: timedelta) -> None:
    """Write one checkpoint's copy and lock it; finishes a copy an earlier attempt left unlocked."""
    key, data = checkpoint_key(checkpoint.tree_size), _stored_form(checkpoint)
    try:
        version_id = put_bytes(store, key, data, tags={"kind": "ledger-checkpoint"})
    except ObjectExists:
        # Written before a crash (or by a process racing this one): the same bytes, or tampering.
        if read_bytes(store, key) != data:
            raise LedgerTampered(
                f"{key}: the locked copy differs from the checkpoint in the database; "
                "run `casevault ledger verify`"
            ) from None
        version_id = store.current_version(key)
    if store.retained_until(key, version_id=version_id) is None:
        store.apply_retention(key, version_id=version_id, until=checkpoint.created_at + retain_for)


def _locked(store: ObjectStore, key: str) -> bool:
    try:
        return store.retained_until(key, version_id=store.current_version(key)) is not None
    except ObjectMissing:
        return False


def publish_pending(
    session: Session, *, store: ObjectStore, jwks: Mapping[str, Any], retain_for: timedelta
) -> list[int]:
    """Copy to the store the newest checkpoints it lacks (a crash after their commit); their sizes.

    Newest first, down to the first one already locked, so the usual cost is one lookup. A row
    whose signature does not verify is never copied: `ledger verify` names it instead.
    """
    query = select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size.desc())
    pending: list[LedgerCheckpoint] = []
    with session.scalars(query.execution_options(yield_per=100)) as rows:
        for checkpoint in rows:
            if _locked(store, checkpoint_key(checkpoint.tree_size)):
                break
            pending.append(checkpoint)
    published = []
    for checkpoint in reversed(pending):
        try:
            verified_claims(checkpoint.signature, jwks=jwks)
        except CheckpointInvalid:
            continue
        publish(store, checkpoint, retain_for=retain_for)
        published.append(checkpoint.tree_size)
    return published


def _stored_sizes(store: ObjectStore) -> list[int]:
    sizes = []
    for info in store.list(STORE_PREFIX):
        name = info.key.removeprefix(STORE_PREFIX).removesuffix(".json")
        if name.isdigit() and checkpoint_key(int(name)) == info.key:  # not a half-written file
            sizes.append(int(name))
    return sorted(sizes)


def locked_witnesses(session: Session, *, store: ObjectStore) -> list[LedgerCheckpoint]:
    """The store's copies that `verify_chain` needs: the newest, and each whose row is gone."""
    sizes = _stored_sizes(store)
    if not sizes:
        return []
    rows = set(session.scalars(select(LedgerCheckpoint.tree_size)))
    wanted = [size for size in sizes[:-1] if size not in rows] + [sizes[-1]]
    return [_from_stored(key, read_bytes(store, key)) for key in map(checkpoint_key, wanted)]


# --- inclusion proofs -------------------------------------------------------------------------


def inclusion_proof(session: Session, *, seq: int, checkpoint: LedgerCheckpoint) -> dict[str, Any]:
    """The audit path from entry `seq` to the checkpoint's signed root, checked before it is given."""
    if not 1 <= seq <= checkpoint.tree_size:
        raise ValueError(f"entry {seq} is not covered by the checkpoint at {checkpoint.tree_size} entries")
    leaves = _stored_leaves(session, upto=checkpoint.tree_size)
    path = inclusion_path(leaf_index=seq - 1, leaves=leaves)
    root = bytes.fromhex(checkpoint.root_hash)
    if not verify_inclusion(
        leaf_index=seq - 1, tree_size=checkpoint.tree_size, leaf=leaves[seq - 1], path=path, root=root
    ):
        raise LedgerTampered(
            f"the ledger no longer matches the checkpoint at {checkpoint.tree_size} entries; "
            "run `casevault ledger verify`"
        )
    stored = session.scalars(select(LedgerEntry.entry_hash).where(LedgerEntry.seq == seq)).one()
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "entry_hash": stored,
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "audit_path": [node.hex() for node in path],
        "checkpoint": checkpoint.as_json(),
    }
