"""Fixity (固定性) checks: re-read every object of a bundle, re-hash it, check the bag and the seal.

`check_bag` is the one rule for what makes a bag intact; it serves the archive's own copy
(`verify_bundle`) and an exported copy checked offline (`verify_bag_dir`) alike.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from archive import bag
from archive.digests import SUPPORTED, Digested, digest_stream, overlap_digests, read_file
from archive.errors import ObjectMissing
from archive.models import Bundle
from archive.seal import SealInvalid, verify_seal
from archive.store import ObjectStore

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Failure:
    """One path that is not as sealed, and why."""

    path: str
    reason: str


@dataclass
class VerifyReport:
    """All that is wrong with one bundle (nothing, when intact)."""

    bundle_id: str | None
    case_no: str | None
    version: int | None
    files: int = 0
    failures: list[Failure] = field(default_factory=list)
    trust: str | None = None  # where the keys that checked the seal came from

    @property
    def intact(self) -> bool:
        """True when no path failed."""
        return not self.failures

    def fail(self, path: str, reason: str) -> None:
        """Record a failure, once per path (the first reason found is the clearest)."""
        if all(f.path != path for f in self.failures):
            self.failures.append(Failure(path, reason))

    def as_json(self) -> dict[str, Any]:
        """The `verify --json` shape."""
        return {
            "bundle_id": self.bundle_id,
            "case_no": self.case_no,
            "version": self.version,
            "intact": self.intact,
            "files": self.files,
            "trust": self.trust,
            "failures": [{"path": f.path, "reason": f.reason} for f in self.failures],
        }


Reader = Callable[[], Iterable[bytes | memoryview]]


def digest_many(
    sources: dict[str, Reader],
    *,
    algorithms: tuple[str, ...],
    progress: Progress | None = None,
    overlap: bool = True,
) -> tuple[dict[str, Digested | Exception], dict[str, bytes]]:
    """Hash many objects in parallel, one thread per core; tag files are also kept in memory."""
    tag_bytes: dict[str, bytes] = {}

    def one(path: str) -> Digested | Exception:
        kept: list[bytes | memoryview] = []
        sink = None if path.startswith("data/") else kept.append
        try:
            result = digest_stream(
                sources[path](), algorithms=algorithms, sink=sink, progress=progress, overlap=overlap
            )
        except (ObjectMissing, OSError) as exc:
            return exc
        if sink is not None:
            tag_bytes[path] = b"".join(kept)
        return result

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = dict(zip(sources, pool.map(one, sources), strict=True))
    return results, tag_bytes


def check_bag(
    report: VerifyReport,
    *,
    digests: dict[str, Digested],
    tag_bytes: dict[str, bytes],
    jwks: dict[str, Any],
) -> dict[str, Any] | None:
    """Check manifests, tag manifest and seal against fresh digests; returns the seal's claims."""
    manifests = [name for name in tag_bytes if name.startswith(("manifest-", "tagmanifest-"))]
    if bag.manifest_name("sha256") not in tag_bytes:
        report.fail(bag.manifest_name("sha256"), "missing")
    if "tagmanifest-sha256.txt" not in tag_bytes:
        report.fail("tagmanifest-sha256.txt", "missing")
    for name in sorted(manifests):
        algorithm = name.removesuffix(".txt").split("-", 1)[1]
        if algorithm not in SUPPORTED:
            continue
        try:
            listed = bag.parse_manifest(tag_bytes[name], name=name)
        except (ValueError, UnicodeDecodeError) as exc:
            report.fail(name, f"unreadable: {exc}")
            continue
        for path, expected in listed.items():
            got = digests.get(path)
            if got is None:
                report.fail(path, f"listed in {name} but missing")
            elif got.digests.get(algorithm) != expected:
                report.fail(path, f"{algorithm} digest differs from {name}")
        if name.startswith("manifest-"):
            for path in digests:
                if path.startswith("data/") and path not in listed:
                    report.fail(path, f"present but not listed in {name}")
    token = tag_bytes.get(bag.SEAL)
    if token is None:
        report.fail(bag.SEAL, "missing")
        return None
    try:
        claims = verify_seal(token, jwks=jwks)
    except SealInvalid as exc:
        report.fail(bag.SEAL, str(exc).removeprefix("seal.jws: "))
        return None
    tagmanifest = digests.get("tagmanifest-sha256.txt")
    if tagmanifest is not None and claims.get("tagmanifest_sha256") != tagmanifest.digests["sha256"]:
        report.fail("tagmanifest-sha256.txt", "differs from the digest the seal signs")
    return claims


def verify_bundle(
    *,
    session: Session,
    store: ObjectStore,
    bundle: Bundle,
    jwks: dict[str, Any],
    progress: Progress | None = None,
) -> VerifyReport:
    """Re-read every object of a sealed bundle at its recorded version and check it all."""
    report = VerifyReport(bundle.id, bundle.case.case_no, bundle.version, files=len(bundle.files))
    algorithms = tuple(bundle.digests.split(","))
    sources: dict[str, Reader] = {
        f.path: partial(store.read, f.key, version_id=f.version_id) for f in bundle.files
    }
    overlap = overlap_digests(f.size for f in bundle.files)
    results, tag_bytes = digest_many(sources, algorithms=algorithms, progress=progress, overlap=overlap)
    fresh: dict[str, Digested] = {}
    for item in bundle.files:
        result = results[item.path]
        if isinstance(result, Exception):
            report.fail(item.path, "missing from the store")
            continue
        fresh[item.path] = result
        if item.version_id is not None:
            try:
                current = store.current_version(item.key)
            except ObjectMissing:
                current = None
            if current != item.version_id:
                report.fail(
                    item.path,
                    f"key now shows another version ({current}); sealed version is {item.version_id}",
                )
        if result.size != item.size:
            report.fail(item.path, f"size is {result.size} bytes, sealed as {item.size}")
        for name, expected in (("sha256", item.sha256), ("sm3", item.sm3)):
            if expected is not None and result.digests.get(name) != expected:
                report.fail(item.path, f"{name} digest differs from the sealed one")
    claims = check_bag(report, digests=fresh, tag_bytes=tag_bytes, jwks=jwks)
    if claims is not None:
        previous = bundle.previous.seal_digest if bundle.previous else None
        expected_claims = {
            "bundle_id": bundle.id,
            "case_no": bundle.case.case_no,
            "version": bundle.version,
            "previous_seal_digest": previous,
            "tagmanifest_sha256": bundle.tagmanifest_sha256,
        }
        for name, value in expected_claims.items():
            if claims.get(name) != value:
                report.fail(bag.SEAL, f"claim {name} is {claims.get(name)!r}, expected {value!r}")
    return report


def verify_bag_dir(folder: Path, *, jwks: dict[str, Any] | None = None) -> VerifyReport:
    """Check an exported bag offline: digests, manifests, and the seal against its JWKS."""
    report = VerifyReport(None, None, None)
    report.trust = (
        "the published JWKS given"
        if jwks is not None
        else "the bag's own jwks.json: pass --jwks with the archive's published keys to rule out "
        "a re-signed copy"
    )
    if not (folder / "bagit.txt").is_file():
        report.fail("bagit.txt", f"missing: {folder} is not a bag")
        return report
    if jwks is None:
        try:
            jwks = json.loads((folder / "jwks.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            report.fail("jwks.json", f"unreadable ({exc}); pass the published JWKS instead")
            return report
    paths = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p != folder / "jwks.json"
    )
    algorithms = tuple(a for a in SUPPORTED if (folder / bag.manifest_name(a)).exists()) or ("sha256",)
    sources: dict[str, Reader] = {p: partial(read_file, str(folder / p)) for p in paths}
    results, tag_bytes = digest_many(sources, algorithms=algorithms)
    fresh = {p: r for p, r in results.items() if not isinstance(r, Exception)}
    report.files = len(fresh)
    claims = check_bag(report, digests=fresh, tag_bytes=tag_bytes, jwks=jwks)
    if claims is not None:
        report.bundle_id = claims.get("bundle_id")
        report.case_no = claims.get("case_no")
        report.version = claims.get("version")
    return report
