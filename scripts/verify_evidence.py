#!/usr/bin/env python3
"""Check a casevault trail evidence package (审计轨迹证据包) offline, without casevault.

    verify_evidence.py PACKAGE.zip [--jwks JWKS.json]

PACKAGE is the ZIP of `GET /api/v1/trails/evidence`. Checked, all of it, every failure named:

- the manifest: `manifest.jws` is a compact ES256 JWS by a key of the JWKS whose payload is
  exactly `manifest.json`; every file of the package is listed there with its SHA-256 and size,
  and nothing else is in the package;
- the checkpoint in `entries.json`: its ES256 signature by a key of the JWKS, for this ledger,
  and its unsigned copies of tree size and root agreeing with what is signed;
- every entry: its hash recomputed from its fields (SHA-256 over their canonical JSON, keys
  sorted, as the ledger hashes them), and its RFC 9162 inclusion proof (§2.1.3.2) leading from
  that hash to the checkpoint's signed root;
- that every entry is of the trail the package says it holds (person, case, record, period).

The JWKS is the package's own `jwks.json` unless `--jwks` gives the archive's published one
(recommended: a package signed by someone else's key carries that key). Prints OK or each
failure on a line of its own ("FAILED: entry 17: ..."); exit status 0 when everything holds,
1 otherwise, 2 when the package cannot be read at all.

Needs only the Python standard library and python-jose (with its cryptography backend); it
imports nothing from casevault.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jose import jwk, jws
from jose.exceptions import JOSEError

ALGORITHM = "ES256"
LEDGER_NAME = "casevault"
FORMAT = "casevault-trail-evidence/1"
MANIFEST, MANIFEST_JWS, ENTRIES, JWKS = "manifest.json", "manifest.jws", "entries.json", "jwks.json"
ENTRY_FIELDS = (
    "action",
    "actor",
    "at",
    "bundle_id",
    "case_no",
    "detail",
    "outcome",
    "prev_hash",
    "record_id",
    "seq",
    "source",
)


class Unreadable(Exception):
    """The package cannot be read at all."""


class Failed(Exception):
    """One check does not hold; the message names what failed."""


# --- RFC 9162 -------------------------------------------------------------------------------------


def leaf_hash(entry_hash: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || the entry's 32-byte hash)."""
    return hashlib.sha256(b"\x00" + entry_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(*, leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an audit path leads to (RFC 9162 §2.1.3.2); raises Failed if malformed."""
    if not 0 <= leaf_index < tree_size:
        raise Failed(f"leaf_index {leaf_index} is outside a tree of {tree_size} entries")
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            raise Failed("the audit path is longer than the tree is deep")
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
        raise Failed("the audit path is shorter than the tree is deep")
    return r


# --- signatures -----------------------------------------------------------------------------------


def verified_payload(token: str, jwks: dict[str, Any], what: str) -> tuple[str, bytes]:
    """(kid, payload) of a compact ES256 JWS by a key of the JWKS."""
    try:
        header = jws.get_unverified_header(token)
    except JOSEError as exc:
        raise Failed(f"{what}: not a compact JWS ({exc})") from exc
    if header.get("alg") != ALGORITHM:
        raise Failed(f"{what}: algorithm {header.get('alg')!r} is not {ALGORITHM}")
    kid = header.get("kid")
    matches = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kid") == kid]
    if not matches:
        raise Failed(f"{what}: key id {kid!r} is not in the JWKS")
    try:
        payload = jws.verify(token, jwk.construct(matches[0], ALGORITHM), algorithms=[ALGORITHM])
    except JOSEError as exc:
        raise Failed(f"{what}: signature does not verify with key {kid!r} ({exc})") from exc
    return str(kid), payload


def _hex32(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise Failed(f"{name} is not a 64-digit hex SHA-256")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise Failed(f"{name} is not a 64-digit hex SHA-256") from exc


def _integer(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Failed(f"{name} is not an integer")
    return value


# --- the parts --------------------------------------------------------------------------------------


def check_manifest(files: dict[str, bytes], jwks: dict[str, Any]) -> list[str]:
    """Failures of the signed manifest and of each file against it."""
    failures = []
    if MANIFEST not in files or MANIFEST_JWS not in files:
        return [f"manifest: {MANIFEST} or {MANIFEST_JWS} is missing"]
    try:
        kid, payload = verified_payload(
            files[MANIFEST_JWS].decode("ascii", "replace").strip(), jwks, "manifest"
        )
    except Failed as exc:
        failures.append(str(exc))
        payload, kid = files[MANIFEST], "?"
    else:
        if payload != files[MANIFEST]:
            failures.append(f"manifest: {MANIFEST} is not what {MANIFEST_JWS} signs (key {kid})")
    try:
        manifest = json.loads(files[MANIFEST])
        listed = manifest["files"]
        if not isinstance(listed, dict):
            raise TypeError("files is not an object")
    except (ValueError, KeyError, TypeError):
        return [*failures, f"manifest: {MANIFEST} is not a manifest"]
    for name, data in sorted(files.items()):
        if name in (MANIFEST, MANIFEST_JWS):
            continue
        facts = listed.get(name)
        if not isinstance(facts, dict):
            failures.append(f"manifest: {name} is in the package but not in the manifest")
        elif facts.get("sha256") != hashlib.sha256(data).hexdigest() or facts.get("bytes") != len(data):
            failures.append(f"manifest: {name}: SHA-256 or size differs from the manifest")
    for name in sorted(set(listed) - set(files)):
        failures.append(f"manifest: {name} is listed but missing from the package")
    return failures


def checkpoint_claims(checkpoint: Any, jwks: dict[str, Any]) -> tuple[int, bytes, str]:
    """(tree size, root, line) of the package's checkpoint, its signature verified."""
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("jws"), str):
        raise Failed("checkpoint: its jws is missing")
    kid, payload = verified_payload(checkpoint["jws"], jwks, "checkpoint")
    try:
        claims = json.loads(payload)
    except ValueError as exc:
        raise Failed("checkpoint: the signed payload is not JSON") from exc
    if not isinstance(claims, dict) or claims.get("ledger") != LEDGER_NAME:
        raise Failed(f"checkpoint: not of the ledger {LEDGER_NAME!r}")
    size = _integer(claims.get("tree_size"), "checkpoint: the signed tree_size")
    root = _hex32(claims.get("root_hash"), "checkpoint: the signed root_hash")
    for name, signed in (("tree_size", size), ("root_hash", root.hex())):
        if name in checkpoint and checkpoint[name] != signed:
            raise Failed(f"checkpoint: {name} {checkpoint[name]!r} differs from the signed {signed!r}")
    return size, root, f"{size} entries, signed at {claims.get('created_at')} by key {kid}"


def entry_hash(entry: dict[str, Any]) -> str:
    """The entry's hash from its fields: SHA-256 of their canonical JSON (keys sorted, no spaces,
    UTF-8 as is), exactly the text the ledger hashed."""
    body = {name: entry.get(name) for name in ENTRY_FIELDS}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def check_entry(entry: Any, *, size: int, root: bytes, query: dict[str, Any]) -> None:
    """One entry: its hash, its proof to the signed root, and that it is of the trail."""
    if not isinstance(entry, dict):
        raise Failed("an entry is not a JSON object")
    seq = _integer(entry.get("seq"), "an entry's seq")
    name = f"entry {seq}"
    stored = _hex32(entry.get("entry_hash"), f"{name}: entry_hash")
    if entry_hash(entry) != stored.hex():
        raise Failed(f"{name}: its content does not match its hash (altered)")
    proof = entry.get("proof")
    if not isinstance(proof, dict) or not isinstance(proof.get("audit_path"), list):
        raise Failed(f"{name}: its inclusion proof is missing")
    if _integer(proof.get("leaf_index"), f"{name}: leaf_index") != seq - 1:
        raise Failed(f"{name}: leaf_index {proof.get('leaf_index')} is not seq − 1")
    if proof.get("tree_size") != size:
        raise Failed(
            f"{name}: its proof is for a tree of {proof.get('tree_size')}, the checkpoint signs {size}"
        )
    path = [_hex32(node, f"{name}: audit_path[{i}]") for i, node in enumerate(proof["audit_path"])]
    try:
        reached = root_from_path(leaf_index=seq - 1, tree_size=size, leaf=leaf_hash(stored), path=path)
    except Failed as exc:
        raise Failed(f"{name}: {exc}") from exc
    if reached != root:
        raise Failed(f"{name}: its inclusion proof does not lead to the signed root (not in this ledger)")
    for field in ("actor", "case_no", "record_id"):
        if query.get(field) is not None and entry.get(field) != query[field]:
            raise Failed(f"{name}: {field} {entry.get(field)!r} is not the trail's {query[field]!r}")
    at, since, until = _moment(entry.get("at")), _moment(query.get("since")), _moment(query.get("until"))
    if at is None or (since is not None and at < since) or (until is not None and at >= until):
        raise Failed(f"{name}: its time {entry.get('at')!r} is outside the trail's period")


def verify(files: dict[str, bytes], trusted: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(what holds, what failed) of a package's files; `trusted` replaces the package's JWKS."""
    held: list[str] = []
    try:
        jwks = trusted if trusted is not None else json.loads(files[JWKS])
        if not isinstance(jwks, dict):
            raise TypeError("not an object")
    except (KeyError, ValueError, TypeError):
        return held, [f"{JWKS} is missing or not a JWKS"]
    kids = ", ".join(str(k.get("kid")) for k in jwks.get("keys", []) if isinstance(k, dict))
    held.append(f"keys: {kids} ({'given with --jwks' if trusted is not None else 'from the package'})")
    failures = check_manifest(files, jwks)
    if not failures:
        held.append(f"manifest: {len(files) - 2} files, each SHA-256 as signed")
    try:
        body = json.loads(files[ENTRIES])
        if not isinstance(body, dict) or not isinstance(body.get("entries"), list):
            raise TypeError("not the entries")
    except (KeyError, ValueError, TypeError):
        return held, [*failures, f"{ENTRIES} is missing or not the entries"]
    if body.get("format") != FORMAT:
        failures.append(f"{ENTRIES}: format {body.get('format')!r} is not {FORMAT!r}")
    try:
        size, root, line = checkpoint_claims(body.get("checkpoint"), jwks)
    except Failed as exc:
        return held, [*failures, str(exc)]
    held.append(f"checkpoint: {line}")
    query = body.get("query") if isinstance(body.get("query"), dict) else {}
    good = 0
    for entry in body["entries"]:
        try:
            check_entry(entry, size=size, root=root, query=query)
            good += 1
        except Failed as exc:
            failures.append(str(exc))
    if body.get("count") != len(body["entries"]):
        failures.append(
            f"{ENTRIES}: count {body.get('count')!r} is not the {len(body['entries'])} entries it holds"
        )
    held.append(f"entries: {good} of {len(body['entries'])} hashed and proven included")
    return held, failures


def read_package(path: str) -> dict[str, bytes]:
    """Every file of the ZIP by name; raises Unreadable."""
    try:
        with zipfile.ZipFile(Path(path)) as archive:
            names = archive.namelist()
            if len(set(names)) != len(names):
                raise Unreadable(f"{path}: a file name occurs twice")
            return {name: archive.read(name) for name in names}
    except (OSError, zipfile.BadZipFile) as exc:
        raise Unreadable(f"{path}: not a readable ZIP ({exc})") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("package", help="the evidence package (ZIP)")
    parser.add_argument("--jwks", help="the archive's published JWKS (default: the package's own jwks.json)")
    args = parser.parse_args(argv)
    try:
        files = read_package(args.package)
        trusted = json.loads(Path(args.jwks).read_text(encoding="utf-8")) if args.jwks else None
    except Unreadable as exc:
        print(f"FAILED: {exc}")
        return 2
    except (OSError, ValueError) as exc:
        print(f"FAILED: JWKS {args.jwks}: {exc}")
        return 2
    held, failures = verify(files, trusted)
    for line in failures:
        print(f"FAILED: {line}")
    if failures:
        return 1
    print("OK: " + "; ".join(held))
    return 0


if __name__ == "__main__":
    sys.exit(main())
