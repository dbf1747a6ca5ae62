"""BagIt 1.0 (RFC 8493) tag files for a sealed bundle, and reading them back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
# Tag files the tag manifest covers; seal.jws signs the tag manifest, so it stands outside it.
COVERED_TAGS = ("bagit.txt", "bag-info.txt", "case.json", "compliance.json")
SEAL = "seal.jws"


def manifest_name(algorithm: str) -> str:
    """`manifest-sha256.txt` and the like."""
    return f"manifest-{algorithm}.txt"


def _encode_path(path: str) -> str:
    # RFC 8493 §2.1.3: only %, CR and LF are percent-encoded in manifest paths.
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def manifest(entries: Iterable[tuple[str, str]]) -> bytes:
    """A manifest body from (path, hex digest) pairs, sorted by path."""
    lines = [f"{digest}  {_encode_path(path)}\n" for path, digest in sorted(entries)]
    return "".join(lines).encode("utf-8")


def parse_manifest(body: bytes, *, name: str) -> dict[str, str]:
    """Path → digest; a malformed line is named by file and line number."""
    out: dict[str, str] = {}
    for number, line in enumerate(body.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, path = line.partition(" ")
        if not sep or not path.strip():
            raise ValueError(f"{name}: line {number}: expected '<digest> <path>'")
        out[_decode_path(path.strip())] = digest.lower()
    return out


@dataclass(frozen=True)
class BagInfo:
    """What bag-info.txt says about a bundle."""

    source_organization: str
    case_no: str
    bundle_id: str
    version: int
    classification: str
    payload_bytes: int
    payload_files: int
    bagging_date: date

    def render(self) -> bytes:
        """The bag-info.txt body."""
        fields: Mapping[str, str] = {
            "Source-Organization": self.source_organization,
            "External-Identifier": self.case_no,
            "Internal-Sender-Identifier": self.bundle_id,
            "Bundle-Version": str(self.version),
            "Classification": self.classification,
            "Payload-Oxum": f"{self.payload_bytes}.{self.payload_files}",
            "Bagging-Date": self.bagging_date.isoformat(),
        }
        return "".join(f"{k}: {v}\n" for k, v in fields.items()).encode("utf-8")
