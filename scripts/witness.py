#!/usr/bin/env python3
"""A transparency-log witness (C2SP tlog-witness add-checkpoint), held by a party other than the archive.

Stand-alone: the Python standard library and `cryptography`, nothing of casevault. It serves

    POST /add-checkpoint     old <size>, the consistency proof (base64 lines), a blank line, the checkpoint

and cosigns a checkpoint (an Ed25519 `cosignature/v1`, signature type 0x04) only when its log's
signature verifies against a trusted log key and it is consistent with the last checkpoint this
witness cosigned for that origin: 404 unknown origin, 403 no valid log signature, 400 an old
size past the checkpoint or a malformed body, 409 (with its size, `text/x.tlog.size`) when the
old size is not the one it remembers or the same size comes with another root, 422 when the
proof does not verify. The last cosigned size and root per origin live in the state file,
written before the cosignature is returned, under one lock.

    python scripts/witness.py vkey  --name witness.example/w1 --key w1.pem
    python scripts/witness.py serve --name witness.example/w1 --key w1.pem --state w1.json \\
        --log-key 'casevault.invalid/ledger+1a2b3c4d+AX…' [--host 127.0.0.1] [--port 7380]

`vkey` prints the witness's verifier key (creating the key on first use), for the archive's
CASEVAULT_WITNESSES.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DASH = "\u2014"
MAX_BODY = 64 * 1024
MAX_PROOF = 63


class Refusal(Exception):
    """An HTTP refusal: status, text, and content type."""

    def __init__(self, status: int, text: str, kind: str = "text/plain; charset=utf-8") -> None:
        super().__init__(text)
        self.status, self.text, self.kind = status, text, kind


# --- hashing and proofs (RFC 9162 §2.1.4.2) ------------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def consistent(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether the proof shows the tree of `first` leaves is a prefix of the tree of `second`."""
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


# --- keys and notes ---------------------------------------------------------------------------


def _key_id(name: str, kind: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def parse_vkey(text: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key ID, key) of an Ed25519 verifier key name+hexid+base64(0x01 || key)."""
    try:
        name, hex_id, encoded = text.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
        wanted = bytes.fromhex(hex_id)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"{text!r} is not a verifier key name+keyid+key") from exc
    if len(raw) != 33 or raw[0] != 0x01 or _key_id(name, 0x01, raw[1:]) != wanted:
        raise ValueError(f"{text!r}: not an Ed25519 log key whose key ID matches")
    return name, wanted, Ed25519PublicKey.from_public_bytes(raw[1:])


def load_key(path: Path) -> Ed25519PrivateKey:
    """The witness's Ed25519 key, created (0600) on first use."""
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def witness_vkey(name: str, key: Ed25519PrivateKey) -> str:
    """The witness's verifier key: name+keyid+base64(0x04 || key), for cosignature/v1."""
    public = _raw(key.public_key())
    return f"{name}+{_key_id(name, 0x04, public).hex()}+{base64.b64encode(bytes([0x04]) + public).decode()}"


def parse_request(body: bytes) -> tuple[int, list[bytes], str, list[tuple[str, bytes]], str, int, bytes]:
    """(old size, proof, note text, signatures, origin, size, root) of an add-checkpoint body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(400, "the body is not UTF-8") from exc
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise Refusal(400, "control characters in the body")
    head, sep, note = text.partition("\n\n")
    lines = (head + "\n").split("\n")[:-1] if sep else []
    if not lines or not lines[0].startswith("old "):
        raise Refusal(400, "the body starts with an 'old <size>' line and a blank line")
    old_text = lines[0].removeprefix("old ")
    if not old_text.isdigit() or (old_text != "0" and old_text.startswith("0")):
        raise Refusal(400, "the old size is not a decimal without leading zeroes")
    if len(lines) - 1 > MAX_PROOF:
        raise Refusal(400, f"more than {MAX_PROOF} proof lines")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except binascii.Error as exc:
        raise Refusal(400, "a proof line is not base64") from exc
    if any(len(node) != 32 for node in proof):
        raise Refusal(400, "a proof line is not a 32-byte hash")
    note_text, sep, tail = note.rpartition("\n\n")
    if not sep or not tail.endswith("\n"):
        raise Refusal(400, "the checkpoint is not a signed note")
    note_text += "\n"
    signatures = []
    for line in tail.removesuffix("\n").split("\n")[:16]:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise Refusal(400, "a malformed signature line")
        try:
            signatures.append((parts[1], base64.b64decode(parts[2], validate=True)))
        except binascii.Error as exc:
            raise Refusal(400, "a signature is not base64") from exc
    body_lines = note_text.split("\n")
    if len(body_lines) < 4 or any(not line for line in body_lines[:-1]):
        raise Refusal(400, "the checkpoint is not origin, size and root lines")
    origin, size_text, root_text = body_lines[:3]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise Refusal(400, "the tree size is not a decimal without leading zeroes")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise Refusal(400, "the root hash is not base64") from exc
    if len(root) != 32:
        raise Refusal(400, "the root hash is not 32 bytes")
    return int(old_text), proof, note_text, signatures, origin, int(size_text), root


class Witness:
    """The witness's keys and state; `add_checkpoint` is the protocol's one call."""

    def __init__(self, *, name: str, key: Ed25519PrivateKey, state: Path, log_keys: Sequence[str]) -> None:
        self.name, self.key, self.state_path = name, key, state
        self.key_id = _key_id(name, 0x04, _raw(key.public_key()))
        self.logs: dict[str, list[tuple[bytes, Ed25519PublicKey]]] = {}
        for text in log_keys:
            log_name, key_id, public = parse_vkey(text)
            self.logs.setdefault(log_name, []).append((key_id, public))
        self.lock = threading.Lock()
        self.state: dict[str, Any] = json.loads(state.read_text()) if state.exists() else {}

    def _save(self) -> None:
        temporary = self.state_path.with_name(self.state_path.name + ".tmp")
        temporary.write_text(json.dumps(self.state, indent=1, sort_keys=True))
        os.replace(temporary, self.state_path)

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line for a consistent checkpoint; raises Refusal otherwise."""
        old, proof, text, signatures, origin, size, root = parse_request(body)
        trusted = self.logs.get(origin)
        if trusted is None:
            raise Refusal(404, f"unknown log origin {origin!r}")
        verified = False
        for name, raw in signatures:
            for key_id, public in trusted:
                if name == origin and raw[:4] == key_id:
                    try:
                        public.verify(raw[4:], text.encode())
                    except InvalidSignature:
                        raise Refusal(403, "the log's signature does not verify") from None
                    verified = True
        if not verified:
            raise Refusal(403, "no signature by a trusted key of this log")
        if old > size:
            raise Refusal(400, f"old size {old} is past the checkpoint's {size}")
        with self.lock:  # check and record as one step, so no cosigned size ever moves back
            known = self.state.get(origin)
            known_size = int(known["size"]) if known else 0
            if old != known_size:
                raise Refusal(409, f"{known_size}\n", "text/x.tlog.size")
            if known and old == size:
                if base64.b64decode(known["root"]) != root:
                    raise Refusal(409, f"a different root for the {size} entries already cosigned")
            elif known and not consistent(old, size, base64.b64decode(known["root"]), root, proof):
                raise Refusal(422, f"the proof does not show {size} entries extend the {old} cosigned")
            elif not known and proof:
                raise Refusal(422, "a proof from size 0 must be empty")
            self.state[origin] = {"size": size, "root": base64.b64encode(root).decode()}
            self._save()
        timestamp = int(time.time())
        signed = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
        signature = self.key.sign(signed)
        encoded = base64.b64encode(self.key_id + timestamp.to_bytes(8, "big") + signature).decode()
        return f"{DASH} {self.name} {encoded}\n"


def handler_for(witness: Witness) -> type[BaseHTTPRequestHandler]:
    """The HTTP handler serving one witness."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, text: str, kind: str = "text/plain; charset=utf-8") -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/add-checkpoint":
                self._answer(404, "not found\n")
                return
            length = self.headers.get("Content-Length", "")
            if not length.isdigit() or int(length) > MAX_BODY:
                self._answer(413 if length.isdigit() else 411, f"a body of at most {MAX_BODY} bytes\n")
                return
            body = self.rfile.read(int(length))
            try:
                line = witness.add_checkpoint(body)
            except Refusal as refusal:
                self.log_message("refused (%d): %s", refusal.status, refusal.text.strip())
                self._answer(
                    refusal.status,
                    refusal.text if refusal.text.endswith("\n") else refusal.text + "\n",
                    refusal.kind,
                )
                return
            self._answer(200, line)

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("vkey", "serve"):
        command = commands.add_parser(name)
        command.add_argument("--name", required=True, help="the witness's name, e.g. witness.example/w1")
        command.add_argument("--key", required=True, type=Path, help="its Ed25519 key (PEM), made if missing")
        if name == "serve":
            command.add_argument("--state", required=True, type=Path, help="JSON file: last cosigned per log")
            command.add_argument(
                "--log-key", action="append", required=True, help="a trusted log's verifier key"
            )
            command.add_argument("--host", default="127.0.0.1")
            command.add_argument("--port", type=int, default=7380)
    args = parser.parse_args(argv)
    try:
        key = load_key(args.key)
        if args.command == "vkey":
            print(witness_vkey(args.name, key))
            return 0
        witness = Witness(name=args.name, key=key, state=args.state, log_keys=args.log_key)
    except (OSError, ValueError) as exc:
        print(f"witness: {exc}", file=sys.stderr)
        return 2
    server = ThreadingHTTPServer((args.host, args.port), handler_for(witness))
    print(f"witness {args.name} listening on http://{args.host}:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
