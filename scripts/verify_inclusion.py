#!/usr/bin/env python3
"""Check a casevault ledger inclusion proof offline: the checkpoint's signature, then the path.

    verify_inclusion.py PROOF.json --jwks JWKS.json      (PROOF may be "-" for stdin)

PROOF is the body of `GET /api/v1/ledger/entries/{seq}/proof`, JWKS that of
`GET /api/v1/ledger/jwks` (or the archive's published JWKS). The checkpoint must be a compact
JWS signed with ES256 (no other algorithm is accepted) by a key in the JWKS; the audit path
must lead from the entry's hash to the root the checkpoint signs (RFC 9162 §2.1.3.2).
Prints OK or what failed; exit status 0 when the proof holds, 1 otherwise.

Needs only the standard library and python-jose; it imports nothing from casevault.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jose import jwk, jws
from jose.exceptions import JOSEError

ALGORITHM = "ES256"
LEDGER_NAME = "casevault"


class ProofFailed(Exception):
    """The proof does not hold; the message says which part."""


def leaf_hash(entry_hash: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || the entry's 32-byte hash)."""
    return hashlib.sha256(b"\x00" + entry_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(*, leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an audit path leads to, per RFC 9162 §2.1.3.2; raises ProofFailed if malformed."""
    if not 0 <= leaf_index < tree_size:
        raise ProofFailed(f"leaf_index {leaf_index} is outside a tree of {tree_size} entries")
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            raise ProofFailed("the audit path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofFailed("the audit path is shorter than the tree is deep")
    return r


def signed_claims(token: str, jwks: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kid, claims) of a checkpoint JWS whose ES256 signature verifies against the JWKS."""
    try:
        header = jws.get_unverified_header(token)
    except JOSEError as exc:
        raise ProofFailed(f"checkpoint.jws is not a compact JWS ({exc})") from exc
    if header.get("alg") != ALGORITHM:
        raise ProofFailed(f"checkpoint.jws: algorithm {header.get('alg')!r} is not {ALGORITHM}")
    kid = header.get("kid")
    matches = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kid") == kid]
    if not matches:
        raise ProofFailed(f"checkpoint.jws: key id {kid!r} is not in the JWKS")
    try:
        payload = jws.verify(token, jwk.construct(matches[0], ALGORITHM), algorithms=[ALGORITHM])
        claims = json.loads(payload)
    except JOSEError as exc:
        raise ProofFailed(f"checkpoint.jws: signature does not verify ({exc})") from exc
    except ValueError as exc:
        raise ProofFailed("checkpoint.jws: the signed payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise ProofFailed("checkpoint.jws: the signed payload is not a JSON object")
    retired = matches[0].get("retired_at")
    if retired is not None:  # a key rotated out signs nothing dated after its retirement
        signed_at = claims.get("created_at")
        try:
            late = datetime.fromisoformat(str(signed_at)) > datetime.fromisoformat(str(retired))
        except ValueError as exc:
            raise ProofFailed(f"checkpoint.jws: key {kid!r} is retired; signed time unreadable") from exc
        if late:
            raise ProofFailed(f"checkpoint.jws: signed at {signed_at} by key {kid!r}, retired at {retired}")
    return str(kid), claims


def _hex32(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise ProofFailed(f"{name} is not a 64-digit hex SHA-256")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise ProofFailed(f"{name} is not a 64-digit hex SHA-256") from exc


def _integer(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProofFailed(f"{name} is not an integer")
    return value


def verify(proof: dict[str, Any], jwks: dict[str, Any]) -> str:
    """Check one proof against the JWKS; the success line, or ProofFailed naming what failed."""
    checkpoint = proof.get("checkpoint")
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("jws"), str):
        raise ProofFailed("checkpoint.jws is missing")
    kid, claims = signed_claims(checkpoint["jws"], jwks)
    if claims.get("ledger") != LEDGER_NAME:
        raise ProofFailed(f"the checkpoint is for ledger {claims.get('ledger')!r}, not {LEDGER_NAME!r}")
    # Only signed values are trusted; the unsigned copies must agree with them.
    tree_size = _integer(claims.get("tree_size"), "the signed tree_size")
    root = _hex32(claims.get("root_hash"), "the signed root_hash")
    for name, signed in (("tree_size", tree_size), ("root_hash", root.hex())):
        for where, container in (("proof", proof), ("checkpoint", checkpoint)):
            if name in container and container[name] != signed:
                raise ProofFailed(f"{where}.{name} {container[name]!r} differs from the signed {signed!r}")
    seq = _integer(proof.get("seq"), "seq")
    leaf_index = _integer(proof.get("leaf_index"), "leaf_index")
    if leaf_index != seq - 1:
        raise ProofFailed(f"leaf_index {leaf_index} is not seq {seq} − 1")
    entry = _hex32(proof.get("entry_hash"), "entry_hash")
    raw_path = proof.get("audit_path")
    if not isinstance(raw_path, list):
        raise ProofFailed("audit_path is not a list")
    path = [_hex32(node, f"audit_path[{i}]") for i, node in enumerate(raw_path)]
    reached = root_from_path(leaf_index=leaf_index, tree_size=tree_size, leaf=leaf_hash(entry), path=path)
    if reached != root:
        raise ProofFailed("the audit path does not lead to the signed root: the entry is not in this ledger")
    return (
        f"OK: entry {seq} ({entry.hex()}) is included in the ledger of {tree_size} entries "
        f"signed at {claims.get('created_at')} by key {kid}"
    )


def _load(path: str, what: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as exc:
        raise ProofFailed(f"{what} {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ProofFailed(f"{what} {path}: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ProofFailed(f"{what} {path}: not a JSON object")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proof", nargs="?", default="-", help="proof JSON file, or - for stdin (default)")
    parser.add_argument("--jwks", required=True, help="JWKS JSON file with the archive's public keys")
    args = parser.parse_args(argv)
    try:
        message = verify(_load(args.proof, "proof"), _load(args.jwks, "JWKS"))
    except ProofFailed as exc:
        print(f"FAILED: {exc}")
        return 1
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
