"""Applicants' identity documents (身份证件): validation, masking, and sealing the number at rest.

The public portal seals each ID number to an X25519 public key (ephemeral key agreement, HKDF,
AES-256-GCM bound to the applicant's username); only the internal portal holds the private key.
A compromised public host therefore cannot read the numbers it has already stored.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from archive.errors import Refused

VERSION = "v1"
_RAW = serialization.Encoding.Raw


class IdType(StrEnum):
    """Kinds of identity document an applicant may give."""

    resident_id = "resident_id"  # 居民身份证
    passport = "passport"  # 护照
    hk_macao_permit = "hk_macao_permit"  # 港澳居民来往内地通行证
    taiwan_permit = "taiwan_permit"  # 台湾居民来往大陆通行证
    foreign_permanent = "foreign_permanent"  # 外国人永久居留身份证
    organization_code = "organization_code"  # 统一社会信用代码 (applying as an organisation)


_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK = "10X98765432"
_OTHER = re.compile(r"^[A-Z0-9]{6,20}$", re.ASCII)


def normalise(id_type: str, id_number: str) -> str:
    """The number in canonical form, or `Refused` naming the field (GB 11643 check digit for 居民身份证)."""
    if id_type not in IdType.__members__:
        raise Refused(f"id_type: unknown value {id_type!r}; one of {', '.join(IdType)}", code="id.type")
    # Full-width digits and letters (as typed with a Chinese input method) become ASCII; any other
    # script's digits stay and are refused below.
    number = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", id_number or "")).upper()
    if id_type == IdType.resident_id:
        if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
            raise Refused(
                "id_number: a resident ID number has 17 digits and a final digit or X",
                code="id.resident_format",
            )
        total = sum(int(d) * w for d, w in zip(number[:17], _RESIDENT_WEIGHTS, strict=True))
        if _RESIDENT_CHECK[total % 11] != number[17]:
            raise Refused(
                "id_number: the check digit does not match; please check the number", code="id.check_digit"
            )
        return number
    if not _OTHER.match(number):
        raise Refused("id_number: 6–20 letters and digits", code="id.other_format")
    return number


def mask(number: str) -> str:
    """The form shown on every page: a sixth of the number at each end (at least one character),
    the rest as `*` — so even a 9-character passport number keeps 7 characters hidden."""
    keep = max(1, len(number) // 6)
    return number[:keep] + "*" * (len(number) - 2 * keep) + number[-keep:]


def new_private_key() -> str:
    """A fresh private key, base64 (for the key file)."""
    raw = X25519PrivateKey.generate().private_bytes(
        _RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


def load_private_key(text: str) -> X25519PrivateKey:
    """A private key from its base64 form."""
    return X25519PrivateKey.from_private_bytes(base64.b64decode(text))


def load_public_key(text: str) -> X25519PublicKey:
    """A public key from its base64 form (`CASEVAULT_ID_NUMBER_PUBLIC_KEY`)."""
    return X25519PublicKey.from_public_bytes(base64.b64decode(text))


def public_key_text(key: X25519PublicKey) -> str:
    """A public key in base64, to configure a separate public host with."""
    return base64.b64encode(key.public_bytes(_RAW, serialization.PublicFormat.Raw)).decode()


def key_id(key: X25519PublicKey) -> str:
    """A short name for a key, for the ledger: the start of the SHA-256 of its raw bytes."""
    return hashlib.sha256(key.public_bytes(_RAW, serialization.PublicFormat.Raw)).hexdigest()[:16]


def _aead_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> AESGCM:
    derived = HKDF(hashes.SHA256(), 32, salt=ephemeral + recipient, info=b"casevault id number v1").derive(
        shared
    )
    return AESGCM(derived)


def seal(number: str, *, key: X25519PublicKey, username: str) -> str:
    """The number encrypted to `key`, bound to the applicant's username."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    recipient = key.public_bytes(_RAW, serialization.PublicFormat.Raw)
    nonce = os.urandom(12)
    sealed = _aead_key(ephemeral.exchange(key), ephemeral_raw, recipient).encrypt(
        nonce, number.encode(), username.encode()
    )
    return ".".join(
        [VERSION, *(base64.urlsafe_b64encode(p).decode() for p in (ephemeral_raw, nonce, sealed))]
    )


def unseal(sealed: str, *, key: X25519PrivateKey, username: str) -> str:
    """The number back; `ValueError` when the text was altered or belongs to another applicant."""
    version, *parts = sealed.split(".")
    if version != VERSION or len(parts) != 3:
        raise ValueError("sealed ID number: unknown format")
    ephemeral_raw, nonce, body = (base64.urlsafe_b64decode(p) for p in parts)
    recipient = key.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    shared = key.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
    try:
        return _aead_key(shared, ephemeral_raw, recipient).decrypt(nonce, body, username.encode()).decode()
    except InvalidTag as exc:
        raise ValueError("sealed ID number: altered, or sealed for another applicant") from exc


def unseal_with(sealed: str, *, keys: Sequence[X25519PrivateKey], username: str) -> tuple[str, int]:
    """(number, index of the key that opened it) with the first of `keys` that opens it;
    `ValueError` when none does."""
    for index, key in enumerate(keys):
        with contextlib.suppress(ValueError):
            return unseal(sealed, key=key, username=username), index
    raise ValueError("sealed ID number: altered, sealed for another applicant, or to a key not held")
