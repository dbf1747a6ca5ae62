"""The seal (封存签章): an ES256 JWS over a bundle's identity and its tag manifest.

The archive key is created on first use under the data dir (mode 0600); every public key
ever used stays in the keyring so old seals verify after a rotation, and is published as a
JWKS so anyone can check a seal offline.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jws
from jose.exceptions import JOSEError

ALGORITHM = "ES256"  # pinned: a seal with any other alg header is refused


class SealInvalid(ValueError):
    """A seal that does not verify, or whose claims do not match the bundle."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(public: dict[str, str]) -> str:
    """RFC 7638 JWK thumbprint, used as the key id."""
    canonical = json.dumps({k: public[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def _public_jwk(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> dict[str, str]:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    numbers = public.public_numbers()
    jwk_dict = {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }
    return {**jwk_dict, "kid": thumbprint(jwk_dict), "alg": ALGORITHM, "use": "sig"}


@dataclass(frozen=True)
class Keyring:
    """The archive's signing keys under `<data dir>/keys`."""

    folder: Path

    def signing_key(self) -> tuple[str, str]:
        """(kid, private PEM) of the current key, created on first use."""
        current = self.folder / "current"
        if current.exists():
            kid = current.read_text().strip()
            return kid, (self.folder / f"{kid}.pem").read_text()
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = ec.generate_private_key(ec.SECP256R1())
        kid = _public_jwk(private)["kid"]
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(self.folder / f"{kid}.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        tmp = self.folder / ".current"
        tmp.write_text(kid)
        os.replace(tmp, current)
        return kid, pem.decode()

    def key_files(self) -> list[tuple[str, datetime, bool]]:
        """(kid, when its key file was written, whether it signs now) of every key, oldest first;
        reads no private key and creates none."""
        current = self.folder / "current"
        signing = current.read_text().strip() if current.exists() else None
        found = [
            (path.stem, datetime.fromtimestamp(path.stat().st_mtime, UTC), path.stem == signing)
            for path in self.folder.glob("*.pem")
        ]
        return sorted(found, key=lambda row: row[1])

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """Every public key in the keyring, as a JWKS."""
        keys = []
        for pem_path in sorted(self.folder.glob("*.pem")):
            private = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
            assert isinstance(private, ec.EllipticCurvePrivateKey)
            keys.append(_public_jwk(private))
        return {"keys": keys}


def sign_jws(payload: bytes, *, keyring: Keyring) -> tuple[str, bytes]:
    """(kid, compact JWS) over a payload with the archive's current key."""
    kid, pem = keyring.signing_key()
    token = jws.sign(payload, pem, headers={"kid": kid}, algorithm=ALGORITHM)
    return kid, token.encode() if isinstance(token, str) else token


def verify_jws(token: str, *, jwks: Mapping[str, Any]) -> tuple[str, bytes]:
    """(kid, payload) of a JWS whose ES256 signature verifies against a key of the JWKS."""
    try:
        header = jws.get_unverified_header(token)
    except JOSEError as exc:
        raise SealInvalid(f"not a JWS ({exc})") from exc
    if header.get("alg") != ALGORITHM:
        raise SealInvalid(f"algorithm {header.get('alg')!r} is not {ALGORITHM}")
    kid = header.get("kid")
    matches = [k for k in jwks.get("keys", []) if k.get("kid") == kid]
    if not matches:
        raise SealInvalid(f"key id {kid!r} is not in the JWKS")
    try:
        payload = jws.verify(token, jwk.construct(matches[0], ALGORITHM), algorithms=[ALGORITHM])
    except JOSEError as exc:
        raise SealInvalid(f"signature does not verify ({exc})") from exc
    return str(kid), payload


def sign_seal(claims: dict[str, Any], *, keyring: Keyring) -> bytes:
    """Compact JWS over the claims with the archive key."""
    return sign_jws(json.dumps(claims, ensure_ascii=False, sort_keys=True).encode(), keyring=keyring)[1]


def verify_seal(token: bytes, *, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Check signature and algorithm against the JWKS; returns the claims."""
    try:
        _kid, payload = verify_jws(token.decode("ascii", errors="replace").strip(), jwks=jwks)
    except SealInvalid as exc:
        raise SealInvalid(f"seal.jws: {exc}") from exc
    claims: dict[str, Any] = json.loads(payload)
    return claims


def seal_digest(token: bytes) -> str:
    """The digest later versions link to."""
    return hashlib.sha256(token).hexdigest()
