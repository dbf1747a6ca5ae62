"""Deposit (归档), export and reconciliation of sealed case bundles.

A deposit writes objects without retention, then applies retention, then adds the rows to the
caller's session; the caller appends the ledger entry and commits. Until that commit nothing
is visible, and `reconcile` removes what an interrupted deposit left in the store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import bag
from archive.compliance import check_case
from archive.content import FootageCheck, check_contents
from archive.digests import Digested, digest_stream, overlap_digests, read_file
from archive.errors import AlreadySealed, ArchiveError, ObjectMissing, Refused, StoreMismatch, UnknownBundle
from archive.models import Bundle, BundleFile, Case, CaseParty, CaseRecord
from archive.seal import Keyring, seal_digest, sign_seal
from archive.sip import CaseFile, Classification, Sip, SipFile, read_sip
from archive.store import ObjectInfo, ObjectStore, put_bytes

Progress = Callable[[int], None]
BUNDLE_ID = re.compile(r"^[0-9a-f]{32}$")
_TAG_UNSAFE = re.compile(r"[^\w +\-=.:/@]")


def new_bundle_id() -> str:
    """A fresh, unguessable bundle id."""
    return uuid.uuid4().hex


def bundle_prefix(bundle_id: str) -> str:
    """Where a bundle's objects live in the store."""
    return f"bundles/{bundle_id}/"


def _tag_value(value: str) -> str:
    # S3 tag values allow letters, digits, spaces and + - = . _ : / @ only.
    return _TAG_UNSAFE.sub("_", value)[:256]


def _tags(bundle_id: str, case_no: str, classification: Classification) -> dict[str, str]:
    return {
        "classification": classification.level.value,
        "grade": classification.grade.value if classification.grade else "none",
        "case": _tag_value(case_no),
        "bundle": bundle_id,
    }


def _store_payload(
    *,
    store: ObjectStore,
    prefix: str,
    case_no: str,
    bundle_id: str,
    item: SipFile,
    algorithms: tuple[str, ...],
    progress: Progress | None,
    overlap: bool,
) -> tuple[Digested, str | None]:
    writer = store.open_writer(
        f"{prefix}data/{item.path}", tags=_tags(bundle_id, case_no, item.record.classification), durable=False
    )
    try:
        # Writers copy or write each chunk before the next, so one buffer can serve the file.
        digested = digest_stream(
            read_file(str(item.source), reuse_buffer=not overlap),
            algorithms=algorithms,
            sink=writer.write,
            progress=progress,
            overlap=overlap,
        )
        if digested.size != item.size:
            raise Refused(f"{item.path}: changed while it was being deposited")
        return digested, writer.commit()
    except BaseException:
        writer.abort()
        raise


def latest_bundle(session: Session, case_no: str) -> Bundle | None:
    """The newest sealed version of a case, if any."""
    return session.scalar(
        select(Bundle).join(Case).where(Case.case_no == case_no).order_by(Bundle.version.desc())
    )


def deposit_case(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    folder: Path,
    bundle_id: str,
    sealed_by: str,
    algorithms: tuple[str, ...],
    source_organization: str,
    retain_until: Callable[[CaseFile], datetime],
    progress: Progress | None = None,
    before_write: Callable[[int], None] | None = None,
    supplement: bool = True,
) -> Bundle:
    """Validate a SIP folder, store and seal it as a new bundle version; the caller commits.
    Without `supplement` a case that is already sealed is refused (`AlreadySealed`) before
    anything is stored."""
    sip = read_sip(folder)
    # ffprobe reads the clips while they are being stored; a refusal after that removes them
    # (the caller discards what a failed deposit wrote).
    with check_contents(sip.files) as footage:
        bundle = _deposit_sip(
            session=session,
            store=store,
            keyring=keyring,
            sip=sip,
            footage=footage,
            bundle_id=bundle_id,
            sealed_by=sealed_by,
            algorithms=algorithms,
            source_organization=source_organization,
            retain_until=retain_until,
            progress=progress,
            before_write=before_write,
            supplement=supplement,
        )
    return bundle


def _deposit_sip(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    sip: Sip,
    footage: FootageCheck,
    bundle_id: str,
    sealed_by: str,
    algorithms: tuple[str, ...],
    source_organization: str,
    retain_until: Callable[[CaseFile], datetime],
    progress: Progress | None,
    before_write: Callable[[int], None] | None,
    supplement: bool,
) -> Bundle:
    """`deposit_case` once the SIP is read, while ffprobe looks at its footage."""
    overlap = overlap_digests(f.size for f in sip.files)
    if before_write is not None:
        before_write(sum(f.size for f in sip.files))
    case_file = sip.case
    findings = [f.as_json() for f in check_case(case_file, sip.files)]
    previous = latest_bundle(session, case_file.case_no)
    version = previous.version + 1 if previous else 1
    if previous is not None and not supplement:
        raise AlreadySealed(
            f"{case_file.case_no}: already sealed as version {previous.version} (bundle {previous.id}); "
            f"ask for a supplement to deposit it as version {version}",
            case_no=case_file.case_no,
            version=previous.version,
            bundle_id=previous.id,
            next_version=version,
        )
    prefix = bundle_prefix(bundle_id)
    classification = case_file.classification
    sealed_at = datetime.now(UTC)

    def store_one(item: SipFile) -> tuple[Digested, str | None]:
        return _store_payload(
            store=store,
            prefix=prefix,
            case_no=case_file.case_no,
            bundle_id=bundle_id,
            item=item,
            algorithms=algorithms,
            progress=progress,
            overlap=overlap,
        )

    # Largest first, one thread per core: the long files start early and overlap.
    order = sorted(sip.files, key=lambda f: f.size, reverse=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        stored = dict(zip((f.path for f in order), pool.map(store_one, order), strict=True))
    footage.result()

    files: list[BundleFile] = []
    for sip_file in sip.files:
        digested, version_id = stored[sip_file.path]
        files.append(_bundle_file(prefix, f"data/{sip_file.path}", digested, version_id))

    tag_tags = _tags(bundle_id, case_file.case_no, classification)

    def put_tag(name: str, body: bytes) -> None:
        digested = digest_stream([body], algorithms=algorithms)
        version_id = put_bytes(store, prefix + name, body, tags=tag_tags, durable=False)
        files.append(_bundle_file(prefix, name, digested, version_id))

    payload = [f for f in files if f.path.startswith("data/")]
    put_tag("bagit.txt", bag.BAGIT_TXT)
    for algorithm in algorithms:
        put_tag(
            bag.manifest_name(algorithm),
            bag.manifest((f.path, _digest_of(f, algorithm)) for f in payload),
        )
    info = bag.BagInfo(
        source_organization=source_organization,
        case_no=case_file.case_no,
        bundle_id=bundle_id,
        version=version,
        classification=classification.level.value
        + (f"/{classification.grade.value}" if classification.grade else ""),
        payload_bytes=sum(f.size for f in payload),
        payload_files=len(payload),
        bagging_date=sealed_at.date(),
    )
    put_tag("bag-info.txt", info.render())
    put_tag("case.json", sip.case_json)
    put_tag("compliance.json", json.dumps(findings, ensure_ascii=False, indent=2).encode())
    tagmanifest = bag.manifest((f.path, f.sha256) for f in files if not f.path.startswith("data/"))
    put_tag("tagmanifest-sha256.txt", tagmanifest)
    tagmanifest_sha256 = files[-1].sha256

    claims: dict[str, Any] = {
        "bundle_id": bundle_id,
        "case_no": case_file.case_no,
        "version": version,
        "tagmanifest_sha256": tagmanifest_sha256,
        "sealed_at": sealed_at.isoformat(),
        "sealed_by": sealed_by,
        "previous_seal_digest": previous.seal_digest if previous else None,
    }
    token = sign_seal(claims, keyring=keyring)
    put_tag(bag.SEAL, token)

    until = retain_until(case_file)
    # Every object at once: the store syncs what it deferred here, each file and folder once.
    store.apply_retention_all([(f.key, f.version_id) for f in files], until=until)

    case = previous.case if previous else None
    if case is None:
        case = Case(case_no=case_file.case_no)
        session.add(case)
    case.title = case_file.title
    case.enforcement_type = case_file.enforcement_type.value
    case.closed_at = case_file.closed_at
    case.parties = [CaseParty(name=p.name[:512], kind=p.kind, role=p.role) for p in case_file.parties]
    bundle = Bundle(
        id=bundle_id,
        case=case,
        version=version,
        previous=previous,
        prefix=prefix,
        classification=classification.level.value,
        grade=classification.grade.value if classification.grade else None,
        digests=",".join(algorithms),
        payload_bytes=info.payload_bytes,
        payload_files=info.payload_files,
        tagmanifest_sha256=tagmanifest_sha256,
        seal_kid=keyring.signing_key()[0],
        seal_digest=seal_digest(token),
        sealed_at=sealed_at,
        sealed_by=sealed_by,
        retain_until=until,
        findings=findings,
        files=files,
        records=[_case_record(f) for f in sip.files],
    )
    session.add(bundle)
    session.flush()
    return bundle


def _digest_of(item: BundleFile, algorithm: str) -> str:
    value = item.sha256 if algorithm == "sha256" else item.sm3
    assert value is not None
    return value


def _bundle_file(prefix: str, path: str, digested: Digested, version_id: str | None) -> BundleFile:
    return BundleFile(
        path=path,
        key=prefix + path,
        size=digested.size,
        sha256=digested.digests["sha256"],
        sm3=digested.digests.get("sm3"),
        version_id=version_id,
    )


def _case_record(item: SipFile) -> CaseRecord:
    record = item.record
    return CaseRecord(
        record_id=record.id,
        path=f"data/{item.path}",
        kind=record.kind,
        doc_type=record.doc_type.value,
        stage=record.stage.value,
        title=record.title,
        created_at=record.created_at,
        classification=record.classification.level.value,
        grade=record.classification.grade.value if record.classification.grade else None,
        av=record.av.model_dump(mode="json") if record.av else None,
        evidence=record.evidence.model_dump(mode="json") if record.evidence else None,
    )


def get_bundle(session: Session, bundle_id: str) -> Bundle:
    """A sealed bundle by id; unknown and malformed ids are refused alike."""
    bundle = session.get(Bundle, bundle_id) if BUNDLE_ID.match(bundle_id) else None
    if bundle is None:
        raise UnknownBundle(f"bundle {bundle_id!r}: no such sealed bundle")
    return bundle


def export_bundle(
    *,
    store: ObjectStore,
    bundle: Bundle,
    jwks: dict[str, Any],
    dest: Path,
    progress: Progress | None = None,
) -> Path:
    """Copy a bundle out as a BagIt bag with its seal and JWKS; the copy is checked as it is made."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Refused(f"{dest}: already exists and is not an empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        for item in bundle.files:
            target = staging / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                got = digest_stream(
                    store.read(item.key, version_id=item.version_id),
                    algorithms=("sha256",),
                    sink=out.write,
                    progress=progress,
                )
            if got.digests["sha256"] != item.sha256:
                raise ArchiveError(f"{item.path}: damaged in the store; run `casevault verify`")
        (staging / "jwks.json").write_text(json.dumps(jwks, indent=2), encoding="utf-8")
        if dest.exists():
            dest.rmdir()
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _leftovers(store: ObjectStore, prefix: str) -> list[ObjectInfo]:
    return [*store.list(prefix), *store.list_pending(prefix)]


def discard_bundle_objects(*, store: ObjectStore, bundle_id: str) -> list[tuple[str, str]]:
    """Remove what an unsealed bundle left in the store; objects under retention are kept."""
    items = _leftovers(store, bundle_prefix(bundle_id))
    return _discard_unretained(store, items, {info.key: _retained(store, info) for info in items})


def _discard_unretained(
    store: ObjectStore, items: list[ObjectInfo], locks: dict[str, datetime | None]
) -> list[tuple[str, str]]:
    done: list[tuple[str, str]] = []
    for info in sorted(items, key=lambda item: item.key):
        until = locks[info.key]
        if until is None:
            done.append((info.key, store.discard(info)))
        else:
            done.append((info.key, f"kept: under retention until {until.date().isoformat()}, bundle unknown"))
    return done


def _retained(store: ObjectStore, info: ObjectInfo) -> datetime | None:
    """When an object's retention ends; `None` if retention was never applied to it."""
    if info.upload_id is not None or info.key.rpartition("/")[2].startswith(".incoming-"):
        return None
    try:
        return store.retained_until(info.key, version_id=None)
    except ObjectMissing:  # gone since it was listed, or a half-written file without metadata
        return None


def reconcile(
    *, session: Session, store: ObjectStore, older_than: datetime, reported: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """Remove what deposits that never committed left behind, last written before `older_than`.

    Only objects that never had retention applied are removed. Retained objects of a bundle the
    database does not know are reported and kept: one interrupted deposit can leave one such
    bundle beside those `reported` before; more than that, or any while the database knows no
    bundle at all, means this is not the store's database, and nothing is touched (`StoreMismatch`).
    """
    found: dict[str, list[ObjectInfo]] = {}
    for info in _leftovers(store, "bundles/"):
        found.setdefault(info.key.split("/")[1], []).append(info)
    sealed = set(session.scalars(select(Bundle.id).where(Bundle.id.in_(list(found)))))
    unknown = {bundle_id: items for bundle_id, items in found.items() if bundle_id not in sealed}
    locks = {info.key: _retained(store, info) for items in unknown.values() for info in items}
    orphaned = sorted({key.split("/")[1] for key, until in locks.items() if until is not None} - reported)
    if len(orphaned) > 1 or (orphaned and session.scalar(select(Bundle.id).limit(1)) is None):
        raise StoreMismatch(
            f"the database does not match the store: {len(orphaned)} bundle(s) under retention that it "
            f"does not know (first: {orphaned[0]}); check CASEVAULT_DATABASE_URL — nothing was touched"
        )
    done: list[tuple[str, str]] = []
    for items in unknown.values():
        if max(info.modified_at for info in items) < older_than:  # else maybe still in progress
            done += _discard_unretained(store, items, locks)
    return sorted(done)
