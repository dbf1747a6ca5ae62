"""Checkpoints as C2SP signed notes (`tlog-checkpoint`), and witness cosignatures (`tlog-cosignature`).

A checkpoint's note text is three lines — the origin (the log's name), the tree size in decimal
and the base64 Merkle root — each ending in a newline. A signed note is that text, a blank line,
then one line per signature: an em dash, a space, the key's name, a space and
base64(4-byte key ID || signature). The archive signs with an Ed25519 key whose name is the
origin (signature type 0x01: the signature is over the note text); a witness adds a timestamped
cosignature (type 0x04: over `cosignature/v1`, `time <seconds>` and the note text). The key ID
is the first four bytes of SHA-256(name || 0x0A || type || public key). A verifier key ("vkey")
is written `<name>+<key ID in hex>+<base64(type || public key)>`.

This is the same tree head the JWS checkpoints sign (`access.checkpoints`); the note form is what
transparency-log monitors and witnesses read. `casevault keys rotate checkpoint` replaces the key:
the old one's verifier key is kept, with the time it was retired, so the notes it signed still
verify, and none it claims for a later checkpoint does.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from archive import keyfiles

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014"
MAX_SIGNATURES = 16


class NoteInvalid(ValueError):
    """A note that is malformed, or whose signature does not verify."""


def key_id(name: str, kind: int, public: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(name || newline || signature type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def check_name(name: str) -> str:
    """A key name or origin: non-empty, without spaces or '+' (raises NoteInvalid)."""
    if not name or any(ch.isspace() or ch == "+" for ch in name) or any(ord(ch) < 0x20 for ch in name):
        raise NoteInvalid(f"{name!r} is not a valid key name: non-empty, no spaces, no '+'")
    return name


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A trusted public key: its name, signature type and 32 Ed25519 bytes."""

    name: str
    kind: int
    public: bytes

    @property
    def key_id(self) -> bytes:
        """Its 4-byte key ID."""
        return key_id(self.name, self.kind, self.public)

    @property
    def vkey(self) -> str:
        """The verifier key text: name+hex key ID+base64(type || public key)."""
        encoded = base64.b64encode(bytes([self.kind]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether an Ed25519 signature over the message verifies under this key."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_vkey(text: str) -> Verifier:
    """A verifier key from its text; raises NoteInvalid naming what is wrong."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteInvalid("a verifier key is name+keyid+base64 key")
    name, hex_id, encoded = parts
    check_name(name)
    try:
        raw = base64.b64decode(encoded, validate=True)
        wanted = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError) as exc:
        raise NoteInvalid(f"verifier key for {name}: not hex and base64 ({exc})") from exc
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteInvalid(f"verifier key for {name}: not an Ed25519 key (type 0x01 or 0x04)")
    verifier = Verifier(name, raw[0], raw[1:])
    if verifier.key_id != wanted:
        raise NoteInvalid(f"verifier key for {name}: key ID {hex_id} does not match the key")
    return verifier


@dataclass(frozen=True)
class NoteKey:
    """The archive's Ed25519 checkpoint key, whose name is the log's origin."""

    name: str
    private: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        """Its public half."""
        return Verifier(self.name, ED25519, _raw(self.private.public_key()))

    def signature_line(self, text: str) -> str:
        """The note signature line over a note text (deterministic: Ed25519)."""
        signature = self.private.sign(text.encode())
        encoded = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{DASH} {self.name} {encoded}\n"


def _new_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _read_key(path: Path, *, name: str) -> NoteKey:
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return NoteKey(name, private)


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


@dataclass(frozen=True)
class RetiredKey:
    """A checkpoint key rotated out: its public half and when it stopped signing (None: its
    rotation is under way, and the time is written once the new key is in place)."""

    verifier: Verifier
    retired_at: datetime | None

    def as_json(self) -> dict[str, str | None]:
        """As kept in the key folder."""
        at = self.retired_at.astimezone(UTC).isoformat() if self.retired_at else None
        return {"vkey": self.verifier.vkey, "retired_at": at}


def retired_note_keys(path: Path) -> list[RetiredKey]:
    """The checkpoint keys rotated out, kept beside the key file (`<key>.retired`), oldest first."""
    kept = _beside(path, ".retired")
    if not kept.exists():
        return []
    found = []
    for item in json.loads(kept.read_text()):
        at = item["retired_at"]
        found.append(RetiredKey(parse_vkey(item["vkey"]), datetime.fromisoformat(at) if at else None))
    return found


def _keep_retired(path: Path, retired: list[RetiredKey]) -> None:
    body = json.dumps([r.as_json() for r in retired], indent=2)
    keyfiles.replace_file(_beside(path, ".retired"), body.encode())


def _unfinished(path: Path, key: NoteKey) -> bool:
    return any(r.retired_at is None or r.verifier == key.verifier for r in retired_note_keys(path))


def _finish_rotation(path: Path, *, name: str, now: datetime) -> NoteKey:
    """Under the rotation lock: the staged new key put in place if the key in `path` is already
    retired, and the retirement time written where it is still missing; the current key."""
    key = _read_key(path, name=name)
    retired = retired_note_keys(path)
    if any(r.verifier == key.verifier for r in retired):
        keyfiles.move_into_place(_beside(path, ".new"), path)
        key = _read_key(path, name=name)
    if any(r.retired_at is None for r in retired):
        _keep_retired(path, [RetiredKey(r.verifier, r.retired_at or now) for r in retired])
    return key


def load_note_key(path: Path, *, name: str) -> NoteKey:
    """The Ed25519 key in a PEM file, created (0600) on first use; a rotation interrupted half-way
    is finished here (the new key, already on disk, is put in place)."""
    check_name(name)
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it a moment ago: read theirs
            keyfiles.write_new(path, _new_pem())
    key = _read_key(path, name=name)
    if _unfinished(path, key):
        with keyfiles.rotation_lock(path.parent):
            key = _finish_rotation(path, name=name, now=datetime.now(UTC))
    return key


def rotate_note_key(path: Path, *, name: str, clock: Callable[[], datetime]) -> tuple[Verifier, Verifier]:
    """(old, new) verifier: a new checkpoint key in place of the one in `path`. The old one's public
    half is kept before its private key is replaced, and its retirement time read after."""
    load_note_key(path, name=name)  # made first, or an interrupted rotation finished
    with keyfiles.rotation_lock(path.parent):
        old = _read_key(path, name=name)
        staged = _beside(path, ".new")
        keyfiles.remove(staged)  # left by a rotation that never retired anything
        keyfiles.write_new(staged, _new_pem())
        kept = [r for r in retired_note_keys(path) if r.verifier != old.verifier]
        _keep_retired(path, [*kept, RetiredKey(old.verifier, None)])
        keyfiles.move_into_place(staged, path)
        new = _finish_rotation(path, name=name, now=clock())
    return old.verifier, new.verifier


# --- checkpoint text --------------------------------------------------------------------------


def checkpoint_text(*, origin: str, tree_size: int, root: bytes) -> str:
    """The note text of a checkpoint: origin, size and base64 root, each on its own line."""
    check_name(origin)
    if tree_size < 0 or len(root) != 32:
        raise NoteInvalid("a checkpoint has a size of 0 or more and a 32-byte root")
    return f"{origin}\n{tree_size}\n{base64.b64encode(root).decode()}\n"


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint's note text, read back."""

    origin: str
    tree_size: int
    root: bytes


def parse_checkpoint_text(text: str) -> Checkpoint:
    """Origin, size and root of a checkpoint's note text; raises NoteInvalid."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteInvalid("a checkpoint is at least three non-empty lines, each ending in a newline")
    origin, size, encoded = lines[0], lines[1], lines[2]
    if not size.isdigit() or not size.isascii() or (size != "0" and size.startswith("0")):
        raise NoteInvalid(f"tree size {size!r} is not a decimal without leading zeroes")
    try:
        root = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise NoteInvalid("the root hash is not base64") from exc
    if len(root) != 32:
        raise NoteInvalid("the root hash is not 32 bytes")
    return Checkpoint(origin, int(size), root)


# --- signed notes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signature line: the key's name, its key ID and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    @property
    def line(self) -> str:
        """The line as written in a note."""
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{DASH} {self.name} {encoded}\n"


def parse_signature_line(line: str) -> Signature:
    """One `— name base64` line (with or without its newline); raises NoteInvalid."""
    parts = line.removesuffix("\n").split(" ")
    if len(parts) != 3 or parts[0] != DASH:
        raise NoteInvalid("a signature line is an em dash, the key name and the base64 signature")
    name = check_name(parts[1])
    try:
        raw = base64.b64decode(parts[2], validate=True)
    except binascii.Error as exc:
        raise NoteInvalid(f"the signature by {name} is not base64") from exc
    if len(raw) < 5:
        raise NoteInvalid(f"the signature by {name} is too short")
    return Signature(name, raw[:4], raw[4:])


def split_note(note: str) -> tuple[str, list[Signature]]:
    """The note text and its signature lines; raises NoteInvalid on a malformed note."""
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise NoteInvalid("a note holds no control characters but newlines")
    head, sep, tail = note.rpartition("\n\n")
    if not sep or not tail.endswith("\n"):
        raise NoteInvalid("a signed note is text, a blank line, then signature lines")
    lines = tail.removesuffix("\n").split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteInvalid(f"more than {MAX_SIGNATURES} signatures")
    return head + "\n", [parse_signature_line(line) for line in lines]


def signed_note(text: str, *lines: str) -> str:
    """A note from its text and signature lines."""
    return text + "\n" + "".join(lines)


def verify_note(note: str, verifier: Verifier) -> str:
    """The text of a note that the key signed (type 0x01); raises NoteInvalid otherwise.

    Signatures by other keys are ignored, as the signed-note format asks.
    """
    text, signatures = split_note(note)
    mine = [s for s in signatures if s.name == verifier.name and s.key_id == verifier.key_id]
    if not mine:
        raise NoteInvalid(f"the note carries no signature by {verifier.name}")
    for signature in mine:
        if not verifier.verify(text.encode(), signature.signature):
            raise NoteInvalid(f"the signature by {verifier.name} does not verify")
    return text


# --- cosignatures -----------------------------------------------------------------------------


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a witness signs: `cosignature/v1`, `time <seconds>`, then the checkpoint's note text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosignature_time(signature: Signature) -> int:
    """The timestamp a cosignature carries (its first 8 bytes, big-endian)."""
    if len(signature.signature) != 8 + 64:
        raise NoteInvalid(f"the cosignature by {signature.name} is not a timestamp and an Ed25519 signature")
    return int.from_bytes(signature.signature[:8], "big")


def verify_cosignature(text: str, signature: Signature, witness: Verifier) -> int:
    """The time of a witness's valid cosignature on a checkpoint text; raises NoteInvalid."""
    if (signature.name, signature.key_id) != (witness.name, witness.key_id):
        raise NoteInvalid(f"the cosignature is not by {witness.name}'s key")
    timestamp = cosignature_time(signature)
    if not witness.verify(cosigned_message(text, timestamp), signature.signature[8:]):
        raise NoteInvalid(f"the cosignature by {witness.name} does not verify")
    return timestamp
