"""The seal (封存签章): an ES256 JWS over a bundle's identity and its tag manifest.

The archive key is created on first use under the data dir (mode 0600); every public key
ever used stays in the keyring so old seals verify after a rotation (`casevault keys rotate
seal`), and is published as a JWKS so anyone can check a seal offline. A retired key's entry
says when it was retired, and a seal that claims a later time under it does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jws
from jose.exceptions import JOSEError

from archive import keyfiles
from archive.errors import ArchiveError

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


class KeyRetired(ArchiveError):
    """The keyring names a retired key as the one to sign with: a retired key never signs again."""


def _pem(private: ec.EllipticCurvePrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class KeyFile(NamedTuple):
    """One key of the keyring: its id, when it was made, whether it signs now, when it was retired."""

    kid: str
    created_at: datetime
    current: bool
    retired_at: datetime | None


@dataclass(frozen=True)
class Keyring:
    """The archive's signing keys under `<data dir>/keys`.

    `<kid>.pem` is a private key, `current` names the one that signs. A rotation makes a new key
    current, then retires the others: each one's public half, with the time it was made and the
    time it was retired, goes to `retired/<kid>.json`, and only then is its private key removed,
    so no retired key can sign again while every signature it made still verifies.
    """

    folder: Path

    @property
    def _retired(self) -> Path:
        return self.folder / "retired"

    def _current_kid(self) -> str | None:
        current = self.folder / "current"
        return current.read_text().strip() if current.exists() else None

    def _retired_keys(self) -> dict[str, dict[str, str]]:
        found = {}
        for path in sorted(self._retired.glob("*.json")):
            key = json.loads(path.read_text())
            found[str(key["kid"])] = key
        return found

    def _create(self) -> str:
        private = ec.generate_private_key(ec.SECP256R1())
        kid = _public_jwk(private)["kid"]
        keyfiles.write_new(self.folder / f"{kid}.pem", _pem(private))
        keyfiles.replace_file(self.folder / "current", kid.encode())
        return kid

    def signing_key(self) -> tuple[str, str]:
        """(kid, private PEM) of the current key, created on first use; KeyRetired if `current`
        names a retired key."""
        for _attempt in range(2):
            kid = self._current_kid()
            if kid is None:
                with keyfiles.rotation_lock(self.folder):
                    kid = self._current_kid() or self._create()
            if (self._retired / f"{kid}.json").exists():
                raise KeyRetired(f"the archive key {kid} was retired and signs nothing more; rotate the keys")
            try:
                return kid, (self.folder / f"{kid}.pem").read_text()
            except FileNotFoundError:
                continue  # a rotation retired it between the two reads: read `current` again
        raise KeyRetired(f"the archive key {kid} has no private key; rotate the keys")

    def rotate(self, *, clock: Callable[[], datetime]) -> tuple[str | None, str]:
        """(old kid, new kid): a new current key, every other key retired.

        The time of retirement is read once the new key is current: whatever the old key signed
        was dated before it, since a signature's time is taken before its key is read.
        """
        with keyfiles.rotation_lock(self.folder):
            old = self._current_kid()
            new = self._create()
            retired = clock().astimezone(UTC).isoformat()
            for pem_path in sorted(self.folder.glob("*.pem")):
                if pem_path.stem == new:
                    continue
                public = _public_jwk(_load_private(pem_path))
                made = datetime.fromtimestamp(pem_path.stat().st_mtime, UTC)
                record = {**public, "created_at": made.isoformat(), "retired_at": retired}
                keyfiles.replace_file(self._retired / f"{public['kid']}.json", json.dumps(record).encode())
                keyfiles.remove(pem_path)
        return old, new

    def key_files(self) -> list[KeyFile]:
        """Every key, current and retired, oldest first; reads no private key and creates none."""
        signing = self._current_kid()
        found = [
            KeyFile(path.stem, datetime.fromtimestamp(path.stat().st_mtime, UTC), path.stem == signing, None)
            for path in self.folder.glob("*.pem")
        ]
        found += [
            KeyFile(kid, _when(key["created_at"]), False, _when(key["retired_at"]))
            for kid, key in self._retired_keys().items()
        ]
        return sorted(found, key=lambda row: row.created_at)

    def jwks(self) -> dict[str, list[dict[str, str | None]]]:
        """Every public key in the keyring, as a JWKS; each says when it was retired (`retired_at`,
        null for a key not retired)."""
        keys: dict[str, dict[str, str | None]] = {}
        for path in self.folder.glob("*.pem"):
            keys[path.stem] = {**_public_jwk(_load_private(path)), "retired_at": None}
        for kid, key in self._retired_keys().items():
            keys[kid] = {name: key[name] for name in (*_JWK_MEMBERS, "retired_at")}
        return {"keys": [keys[kid] for kid in sorted(keys)]}


_JWK_MEMBERS = ("kty", "crv", "x", "y", "kid", "alg", "use")


def _load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an EC private key")
    return private


def check_in_service(jwks: Mapping[str, Any], *, kid: str, signed_at: object) -> None:
    """Raise SealInvalid when the key that made a signature was retired before the time the
    signature claims (a retired key signs nothing new; one that claims no time fails closed)."""
    retired = next((k.get("retired_at") for k in jwks.get("keys", []) if k.get("kid") == kid), None)
    if retired is None:
        return
    try:
        at = _when(str(signed_at))
        until = _when(str(retired))
    except ValueError as exc:
        raise SealInvalid(f"key {kid!r} is retired and the signed time {signed_at!r} is unreadable") from exc
    if at > until:
        raise SealInvalid(f"signed at {at.isoformat()} by key {kid!r}, retired at {until.isoformat()}")


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
    """Check signature and algorithm against the JWKS, and that the key was not retired before
    the seal's `sealed_at`; returns the claims."""
    try:
        kid, payload = verify_jws(token.decode("ascii", errors="replace").strip(), jwks=jwks)
        claims: dict[str, Any] = json.loads(payload)
        check_in_service(jwks, kid=kid, signed_at=claims.get("sealed_at"))
    except SealInvalid as exc:
        raise SealInvalid(f"seal.jws: {exc}") from exc
    return claims


def seal_digest(token: bytes) -> str:
    """The digest later versions link to."""
    return hashlib.sha256(token).hexdigest()
