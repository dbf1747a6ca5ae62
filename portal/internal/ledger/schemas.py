"""The ledger API's answers (`portal.internal.ledger.api`), as the OpenAPI document describes
them; the handlers build the bodies, these models check them on the way out."""

from __future__ import annotations

from typing import Any

from portal.web.schemas import Body, Timestamp


class Entry(Body):
    """One ledger entry, with the hashes that chain it to the one before."""

    seq: int
    at: Timestamp
    actor: str
    action: str
    outcome: str
    case_no: str | None
    bundle_id: str | None
    record_id: str | None
    source: str | None
    detail: dict[str, Any]
    prev_hash: str
    entry_hash: str


class EntryPage(Body):
    """`GET /api/v1/ledger`: entries newest first; `next_before` asks for the page after."""

    entries: list[Entry]
    next_before: int | None


class Cosignature(Body):
    """A witness's cosignature found on a checkpoint, checked against the witness's configured key."""

    witness: str
    tree_size: int
    cosigned_at: Timestamp
    valid: bool
    reason: str | None


class ChainReport(Body):
    """`GET /api/v1/ledger/verify`: where the chain or a checkpoint first fails, if anywhere."""

    intact: bool
    entries: int
    first_bad_seq: int | None
    reason: str | None
    checkpoints: int
    first_bad_checkpoint: int | None
    checkpoint_reason: str | None
    signatures_checked: bool
    locked_checkpoint: int | None
    missing_range: list[int] | None
    cosignatures: list[Cosignature]


class Checkpoint(Body):
    """A signed tree head over the first `tree_size` entries, with its compact JWS."""

    tree_size: int
    root_hash: str
    created_at: Timestamp
    kid: str
    jws: str


class CheckpointPage(Body):
    """`GET /api/v1/ledger/checkpoints`: newest first; `next_before` asks for the page after."""

    checkpoints: list[Checkpoint]
    next_before: int | None


class InclusionProof(Body):
    """The audit path from one entry to a signed checkpoint's root (RFC 9162 §2.1.3)."""

    seq: int
    leaf_index: int
    entry_hash: str
    tree_size: int
    root_hash: str
    audit_path: list[str]
    checkpoint: Checkpoint


class PublicKey(Body):
    """One of the archive's ES256 public keys, as a JWK."""

    kty: str
    crv: str
    x: str
    y: str
    kid: str
    alg: str
    use: str
    # Set on a key rotated out (`casevault keys rotate seal`): it verifies what it signed until then.
    retired_at: Timestamp | None


class KeySet(Body):
    """`GET /api/v1/ledger/jwks`: every key the archive ever signed with."""

    keys: list[PublicKey]


class ConsistencyProof(Body):
    """The RFC 9162 §2.1.4 proof that the first `from_size` entries are unchanged in a signed checkpoint."""

    from_size: int
    to_size: int
    from_root: str
    to_root: str
    proof: list[str]
