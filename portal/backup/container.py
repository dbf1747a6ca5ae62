"""The encrypted backup file: a passphrase-derived key and AES-256-GCM in authenticated chunks.

    header  = MAGIC (8) | format version (1) | KDF id (1) | log2 N (1) | r (1) | p (1)
              | salt (16) | nonce prefix (7) | chunk size (4) | passphrase check (32)
    frame   = last flag (1) | ciphertext length (4) | AES-256-GCM(chunk) with its 16-byte tag

scrypt (N, r, p from the header, a random salt) turns the passphrase into 64 bytes: the first 32
are the AES key, the last 32 the check stored in the header, so a wrong passphrase is told apart
from a damaged file. Each chunk's nonce is the file's random prefix, the chunk's number and its
last flag (the STREAM construction), and the whole header is every chunk's associated data: a
chunk changed, dropped, repeated or moved, a file cut short or extended, or a header changed, all
fail to decrypt.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from archive.errors import ArchiveError, Refused

MAGIC = b"CVBACKUP"
FORMAT_VERSION = 1
KDF_SCRYPT = 1
LOG2_N, R, P = 17, 8, 1  # 128 MiB and about half a second per derivation
MAX_LOG2_N = 22  # a header asking for more memory than this is refused, not obeyed
CHUNK_SIZE = 1 << 20
TAG_SIZE = 16
_HEADER = struct.Struct(">8sBBBBB16s7sI32s")
_FRAME = struct.Struct(">BI")


class WrongPassphrase(Refused):
    """The passphrase does not open this backup."""


class BackupDamaged(ArchiveError):
    """A backup file that was changed, cut short or is not a casevault backup."""


def _derive(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    derived = Scrypt(salt=salt, length=64, n=1 << log2_n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return derived[:32], derived[32:]


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, int(last))


class SealedWriter:
    """Encrypts what is written to it into `out`, one chunk at a time; `close` seals the end."""

    def __init__(self, out: BinaryIO, *, passphrase: str) -> None:
        salt, self._prefix = os.urandom(16), os.urandom(7)
        key, check = _derive(passphrase, salt, LOG2_N, R, P)
        self._header = _HEADER.pack(
            MAGIC, FORMAT_VERSION, KDF_SCRYPT, LOG2_N, R, P, salt, self._prefix, CHUNK_SIZE, check
        )
        self._aead, self._out, self._buffer, self._counter = AESGCM(key), out, bytearray(), 0
        out.write(self._header)

    def write(self, data: bytes) -> None:
        """Add plaintext; every full chunk is encrypted and written at once."""
        self._buffer += data
        while len(self._buffer) > CHUNK_SIZE:  # keep at least one byte back for the last chunk
            self._emit(bytes(self._buffer[:CHUNK_SIZE]), last=False)
            del self._buffer[:CHUNK_SIZE]

    def close(self) -> None:
        """Write the last chunk, marked as the last."""
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._counter, last), chunk, self._header)
        self._out.write(_FRAME.pack(int(last), len(sealed)) + sealed)
        self._counter += 1


def _read_exactly(source: BinaryIO, size: int, name: str, what: str) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise BackupDamaged(f"{name}: cut short ({what} incomplete); the backup is not whole")
    return data


class SealedReader:
    """A backup opened with its passphrase (derived once); `chunks` reads it from the start."""

    def __init__(self, source: BinaryIO, *, passphrase: str, name: str) -> None:
        header = source.read(_HEADER.size)
        if len(header) != _HEADER.size or not header.startswith(MAGIC):
            raise BackupDamaged(f"{name}: not a casevault backup")
        _, version, kdf, log2_n, r, p, salt, prefix, chunk_size, check = _HEADER.unpack(header)
        if version != FORMAT_VERSION or kdf != KDF_SCRYPT:
            raise BackupDamaged(
                f"{name}: backup format {version} (KDF {kdf}) is not one this casevault reads"
            )
        if not (1 <= log2_n <= MAX_LOG2_N and 1 <= r <= 32 and 1 <= p <= 16 and 0 < chunk_size <= 1 << 26):
            raise BackupDamaged(f"{name}: the header's parameters are out of range")
        key, expected = _derive(passphrase, salt, log2_n, r, p)
        if not hmac.compare_digest(check, expected):
            raise WrongPassphrase(
                f"{name}: the passphrase does not open this backup (a wrong passphrase, or a changed "
                "header); nothing was written"
            )
        self._source, self._name, self._header = source, name, header
        self._aead, self._prefix, self._chunk_size = AESGCM(key), prefix, chunk_size

    def chunks(self) -> Iterator[bytes]:
        """The plaintext chunks from the start, each authenticated before it is given; raises
        `BackupDamaged` naming the chunk at fault."""
        source, name = self._source, self._name
        source.seek(len(self._header))
        counter = 0
        while True:
            frame = source.read(_FRAME.size)
            if not frame:
                raise BackupDamaged(
                    f"{name}: cut short after chunk {counter} (no end marker); the backup is not whole"
                )
            if len(frame) < _FRAME.size:
                raise BackupDamaged(f"{name}: cut short in chunk {counter + 1}; the backup is not whole")
            flag, length = _FRAME.unpack(frame)
            if flag not in (0, 1) or length > self._chunk_size + TAG_SIZE:
                raise BackupDamaged(f"{name}: chunk {counter + 1} is damaged (bad framing)")
            sealed = _read_exactly(source, length, name, f"chunk {counter + 1}")
            try:
                plain = self._aead.decrypt(_nonce(self._prefix, counter, bool(flag)), sealed, self._header)
            except InvalidTag:
                raise BackupDamaged(
                    f"{name}: chunk {counter + 1} fails its authentication "
                    "(changed, moved or from another backup)"
                ) from None
            counter += 1
            yield plain
            if flag:
                if source.read(1):
                    raise BackupDamaged(f"{name}: data after the end marker; the backup was extended")
                return
