#!/usr/bin/env python3
"""Monitor a casevault access ledger from outside: its checkpoints must only ever grow.

Stand-alone: the Python standard library and `cryptography`, nothing of casevault. Given the
public portal's address (e.g. http://archive.example/public) it fetches the newest checkpoint
from `/api/v1/ledger/checkpoints`, checks its C2SP signed note against the pinned Ed25519 key,
and, when it remembers an earlier checkpoint, asks `/api/v1/ledger/consistency` for the RFC 9162
proof that the earlier tree is a prefix of the new one and checks it.

    python scripts/monitor_ledger.py URL [--state FILE] [--key VKEY] [--witness VKEY ...]

The key is the one given with --key, else the one pinned in the state file, else — on the first
run only — the one `/api/v1/ledger/key` names, which is then pinned. The state file (default
`ledger-monitor.json`) keeps the key and the last checkpoint seen, and is only moved forward.
Each --witness key's cosignature on the checkpoint, when there is one, must verify.

Exit 0 with a one-line summary when the ledger is the one seen before or grew consistently;
1 naming the sizes when it was cut short or rewritten (or a signature or proof fails);
2 for bad arguments or state; 75 when the archive could not be reached (try again later).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DASH = "\u2014"
TIMEOUT = 30.0


class Alarm(Exception):
    """The ledger is not what was seen before: exit 1."""


class Unreachable(Exception):
    """The archive did not answer: exit 75."""


class BadInput(Exception):
    """Bad arguments or state file: exit 2."""


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def consistent(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: whether the tree of `first` leaves is a prefix of the tree of `second`."""
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if first > second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def parse_vkey(text: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key ID, key) of a verifier key name+hexid+base64(0x01 || Ed25519 key)."""
    try:
        name, hex_id, encoded = text.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
        key_id = bytes.fromhex(hex_id)
    except (ValueError, binascii.Error) as exc:
        raise BadInput(f"{text!r} is not a verifier key name+keyid+key") from exc
    if len(raw) != 33 or raw[0] != 0x01:
        raise BadInput(f"{text!r} is not an Ed25519 note key")
    if hashlib.sha256(name.encode() + b"\n" + raw[:1] + raw[1:]).digest()[:4] != key_id:
        raise BadInput(f"{text!r}: the key ID does not match the key")
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def parse_witness_key(text: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key ID, key) of a witness's verifier key name+hexid+base64(0x04 || Ed25519 key)."""
    try:
        name, hex_id, encoded = text.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
        key_id = bytes.fromhex(hex_id)
    except (ValueError, binascii.Error) as exc:
        raise BadInput(f"{text!r} is not a verifier key name+keyid+key") from exc
    if len(raw) != 33 or raw[0] != 0x04 or hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4] != key_id:
        raise BadInput(f"{text!r} is not a witness's cosignature key (type 0x04) whose key ID matches")
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def check_cosignatures(text: str, lines: list[tuple[str, bytes]], witnesses: Sequence[str]) -> list[str]:
    """The names of the given witnesses whose cosignature/v1 on the text verifies; Alarm on a bad one."""
    found = []
    for vkey in witnesses:
        name, key_id, public = parse_witness_key(vkey)
        for signer, raw in lines:
            if signer != name or raw[:4] != key_id:
                continue
            stamp = int.from_bytes(raw[4:12], "big")
            message = f"cosignature/v1\ntime {stamp}\n{text}".encode()
            try:
                public.verify(raw[12:], message)
            except (InvalidSignature, ValueError):
                raise Alarm(f"the cosignature by witness {name} does not verify") from None
            found.append(name)
    return found


def open_note(note: str, vkey: str, witnesses: Sequence[str] = ()) -> tuple[str, int, bytes, int, list[str]]:
    """(origin, size, root, other signatures, witnesses that cosigned) of a checkpoint note the key
    signed; raises Alarm."""
    name, key_id, public = parse_vkey(vkey)
    text, sep, tail = note.rpartition("\n\n")
    if not sep or not tail.endswith("\n"):
        raise Alarm("the checkpoint is not a signed note")
    text += "\n"
    signed, others = False, 0
    lines_seen: list[tuple[str, bytes]] = []
    for line in tail.removesuffix("\n").split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise Alarm("the checkpoint has a malformed signature line")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise Alarm("a checkpoint signature is not base64") from exc
        lines_seen.append((parts[1], raw))
        if parts[1] == name and raw[:4] == key_id:
            try:
                public.verify(raw[4:], text.encode())
            except InvalidSignature:
                raise Alarm("the checkpoint's signature does not verify against the pinned key") from None
            signed = True
        else:
            others += 1
    if not signed:
        raise Alarm("the checkpoint is not signed by the pinned key")
    lines = text.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise Alarm("the checkpoint is not origin, size and root lines")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error as exc:
        raise Alarm("the checkpoint's root is not base64") from exc
    if len(root) != 32 or lines[0] != name:
        raise Alarm(f"the checkpoint is for {lines[0]!r}, not the pinned {name!r}")
    return lines[0], int(lines[1]), root, others, check_cosignatures(text, lines_seen, witnesses)


def fetch(base: str, path: str, **query: int) -> Any:
    """GET base+path as JSON; Unreachable on network trouble or 5xx/429, Alarm on another refusal."""
    url = f"{base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return json.loads(answer.read(4 << 20))
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode(errors="replace")
        if exc.code >= 500 or exc.code == 429:
            raise Unreachable(f"{url}: HTTP {exc.code}") from exc
        raise Alarm(f"{url}: HTTP {exc.code} {detail}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Unreachable(f"{url}: {exc}") from exc


def _load_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"state file {path}: {exc}") from exc
    if not isinstance(state, dict):
        raise BadInput(f"state file {path}: not a JSON object")
    return state


def _save_state(path: Path, state: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


def check(
    base: str, state: dict[str, Any], key: str | None, witnesses: Sequence[str] = ()
) -> tuple[dict[str, Any], str]:
    """The new state and the summary line; raises Alarm, Unreachable or BadInput."""
    pinned = key or state.get("vkey")
    first_run = pinned is None
    if pinned is None:
        pinned = str(fetch(base, "/api/v1/ledger/key")["vkey"])
    elif state.get("vkey") and key and key != state["vkey"]:
        raise BadInput("--key differs from the key pinned in the state file")
    parse_vkey(pinned)
    page = fetch(base, "/api/v1/ledger/checkpoints", limit=1)
    if not page.get("checkpoints"):
        if "size" in state:
            raise Alarm(f"the ledger publishes no checkpoint now; {state['size']} entries were seen before")
        return {**state, "vkey": pinned}, "OK: no checkpoint published yet"
    note = str(page["checkpoints"][0]["note"])
    origin, size, root, cosigned, by = open_note(note, pinned, witnesses)
    new = {"vkey": pinned, "origin": origin, "size": size, "root": base64.b64encode(root).decode()}
    witnessed = f", {cosigned} cosignature(s)" if cosigned else ""
    if by:
        witnessed += f", cosigned by {', '.join(by)}"
    if "size" not in state:
        how = "key fetched and pinned" if first_run else "key given"
        return new, f"OK: {origin} at {size} entries, first checkpoint seen ({how}){witnessed}"
    old_size, old_root = int(state["size"]), base64.b64decode(state["root"])
    if size < old_size:
        raise Alarm(
            f"the ledger was cut short: the checkpoint now covers {size} entries, {old_size} were seen before"
        )
    if size == old_size:
        if root != old_root:
            raise Alarm(f"the ledger was rewritten: a different root for the same {size} entries")
        return new, f"OK: {origin} unchanged at {size} entries{witnessed}"
    try:
        answer = fetch(base, "/api/v1/ledger/consistency", **{"from": old_size, "to": size})
    except Alarm as exc:
        raise Alarm(
            f"the ledger cannot prove {size} entries extend the {old_size} seen before: {exc}"
        ) from exc
    try:
        proof = [bytes.fromhex(node) for node in answer["proof"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise Alarm(f"the consistency proof from {old_size} to {size} is malformed") from exc
    if not consistent(old_size, size, old_root, root, proof):
        raise Alarm(
            f"the ledger was rewritten: the checkpoint at {size} entries is not consistent "
            f"with the one at {old_size} seen before"
        )
    return new, f"OK: {origin} grew from {old_size} to {size} entries, consistent{witnessed}"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("url", help="the public portal, e.g. https://archive.example/public")
    parser.add_argument("--state", type=Path, default=Path("ledger-monitor.json"), help="state file")
    parser.add_argument("--key", help="the checkpoint key's verifier key (name+keyid+key); pinned")
    parser.add_argument(
        "--witness", action="append", default=[], help="a witness's cosignature key, checked when present"
    )
    args = parser.parse_args(argv)
    base = args.url.rstrip("/")
    try:
        state = _load_state(args.state)
        new, summary = check(base, state, args.key, args.witness)
    except BadInput as exc:
        print(f"ERROR: {exc}")
        return 2
    except Unreachable as exc:
        print(f"UNREACHABLE: {exc}; nothing checked, try again later")
        return 75
    except Alarm as exc:
        print(f"ALARM: {exc}")
        return 1
    _save_state(args.state, new)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
