"""Trails (审计轨迹): one person's, one case's or one record's entries in the ledger, and the
signed evidence package (证据包) a court can check without casevault.

A trail is a filter over the ledger — who (`actor`), which case, which record, and a period —
read through the (column, seq) indexes. Its evidence package is a ZIP: a PDF for people, the
entries as JSON each with its RFC 9162 inclusion proof against one signed checkpoint, the JWKS,
and a manifest of every file's SHA-256 signed with the archive key (`manifest.jws`). Every entry
is re-hashed before it is exported, so a package never vouches for a tampered entry;
`scripts/verify_evidence.py` checks a package with the standard library and python-jose only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from access.checkpoints import (
    LEDGER_NAME,
    LedgerCheckpoint,
    LedgerTampered,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_inclusion,
)
from access.ledger import LedgerEntry, canonical_body, canonical_json, canonical_time, hash_body
from access.watermarks import PDF_FONT
from archive.seal import Keyring, sign_jws

FORMAT = "casevault-trail-evidence/1"
MAX_EXPORT = 10_000  # entries in one CSV or evidence package; a longer trail is asked for by period
# The package's files, in the order they are written; the manifest covers all but itself and its JWS.
PDF_NAME, ENTRIES_NAME, JWKS_NAME, README_NAME = "trail.pdf", "entries.json", "jwks.json", "README.txt"
MANIFEST_NAME, MANIFEST_JWS_NAME = "manifest.json", "manifest.jws"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")

pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))


@dataclass(frozen=True)
class TrailQuery:
    """Which entries a trail holds: a person, a case, a record (of the case, if given), a period."""

    actor: str | None = None
    case_no: str | None = None
    record_id: str | None = None
    since: datetime | None = None  # on or after
    until: datetime | None = None  # before

    @property
    def kind(self) -> str:
        """`record`, `case` or `person`: what the trail is of (the most specific filter given)."""
        return "record" if self.record_id else "case" if self.case_no else "person"

    def as_json(self) -> dict[str, Any]:
        """The filter as the package and the ledger record it."""
        return {
            "actor": self.actor,
            "case_no": self.case_no,
            "record_id": self.record_id,
            "since": canonical_time(self.since) if self.since else None,
            "until": canonical_time(self.until) if self.until else None,
        }


def _filtered(query: TrailQuery, selected: Select[Any]) -> Select[Any]:
    for column, value in (
        (LedgerEntry.actor, query.actor),
        (LedgerEntry.case_no, query.case_no),
        (LedgerEntry.record_id, query.record_id),
    ):
        if value is not None:
            selected = selected.where(column == value)
    if query.since is not None:
        selected = selected.where(LedgerEntry.at >= query.since)
    if query.until is not None:
        selected = selected.where(LedgerEntry.at < query.until)
    return selected


def find(
    session: Session, *, query: TrailQuery, limit: int, before: int | None = None, oldest_first: bool = False
) -> list[LedgerEntry]:
    """The trail's entries, newest first (a page, below `before`), or oldest first for an export."""
    selected = _filtered(query, select(LedgerEntry))
    if before is not None:
        selected = selected.where(LedgerEntry.seq < before)
    order = LedgerEntry.seq.asc() if oldest_first else LedgerEntry.seq.desc()
    return list(session.scalars(selected.order_by(order).limit(limit)))


def count(session: Session, *, query: TrailQuery) -> int:
    """How many entries the trail holds."""
    return int(session.scalar(_filtered(query, select(func.count()).select_from(LedgerEntry))) or 0)


def entry_fields(entry: LedgerEntry) -> dict[str, Any]:
    """An entry's fields exactly as its hash covers them (`at` in canonical text), with its hash."""
    return {
        "seq": entry.seq,
        "at": canonical_time(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "outcome": entry.outcome,
        "case_no": entry.case_no,
        "bundle_id": entry.bundle_id,
        "record_id": entry.record_id,
        "source": entry.source,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def check_entry(entry: LedgerEntry) -> None:
    """Raise LedgerTampered unless the entry's content still gives its stored hash."""
    body = canonical_body(
        seq=entry.seq,
        at=canonical_time(entry.at),
        actor=entry.actor,
        action=entry.action,
        outcome=entry.outcome,
        case_no=entry.case_no,
        bundle_id=entry.bundle_id,
        record_id=entry.record_id,
        source=entry.source,
        detail=canonical_json(entry.detail),
        prev_hash=entry.prev_hash,
    )
    if hash_body(body) != entry.entry_hash:
        raise LedgerTampered(
            f"ledger entry {entry.seq}: content does not match its hash; nothing exported — "
            "run `casevault ledger verify`"
        )


# --- inclusion proofs for many entries at once --------------------------------------------------


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _paths(
    leaves: Sequence[bytes], low: int, high: int, wanted: list[int], paths: dict[int, list[bytes]]
) -> bytes:
    """The root of leaves[low:high], appending to each wanted leaf's path its siblings in this
    subtree, deepest first (RFC 9162 §2.1.3.1); a subtree holding no wanted leaf is hashed once."""
    if high - low == 1:
        return leaves[low]
    k = _largest_power_of_two_below(high - low)
    left = [w for w in wanted if w < low + k]
    right = [w for w in wanted if w >= low + k]
    left_root = _paths(leaves, low, low + k, left, paths) if left else merkle_root(leaves[low : low + k])
    right_root = _paths(leaves, low + k, high, right, paths) if right else merkle_root(leaves[low + k : high])
    for index in left:
        paths[index].append(right_root)
    for index in right:
        paths[index].append(left_root)
    return node_hash(left_root, right_root)


def inclusion_paths(
    session: Session, *, seqs: Iterable[int], checkpoint: LedgerCheckpoint
) -> dict[int, list[str]]:
    """The audit path of each entry to the checkpoint's root, each checked before it is given.

    One pass over the stored hashes of entries 1..tree_size for all the entries together, so a
    trail of thousands of entries in a ledger of millions costs one tree, not one per entry.
    Raises LedgerTampered when the stored hashes no longer give the signed root.
    """
    size = checkpoint.tree_size
    wanted = sorted({seq - 1 for seq in seqs})
    if wanted and not 0 <= wanted[0] <= wanted[-1] < size:
        raise ValueError(f"entries outside the checkpoint at {size} entries")
    rows = session.execute(
        select(LedgerEntry.entry_hash)
        .where(LedgerEntry.seq >= 1, LedgerEntry.seq <= size)
        .order_by(LedgerEntry.seq)
        .execution_options(yield_per=20_000)
    )
    leaves = [leaf_hash(stored) for (stored,) in rows]
    tampered = LedgerTampered(
        f"the ledger no longer matches the checkpoint at {size} entries; nothing exported — "
        "run `casevault ledger verify`"
    )
    if len(leaves) != size:
        raise tampered
    paths: dict[int, list[bytes]] = {index: [] for index in wanted}
    root = _paths(leaves, 0, size, wanted, paths) if wanted else merkle_root(leaves)
    expected = bytes.fromhex(checkpoint.root_hash)
    if root != expected:
        raise tampered
    for index, path in paths.items():
        if not verify_inclusion(
            leaf_index=index, tree_size=size, leaf=leaves[index], path=path, root=expected
        ):
            raise tampered
    return {index + 1: [node.hex() for node in path] for index, path in paths.items()}


# --- the package ---------------------------------------------------------------------------------


def evidence_entries(
    entries: Sequence[LedgerEntry], *, checkpoint: LedgerCheckpoint, paths: Mapping[int, list[str]]
) -> list[dict[str, Any]]:
    """Each entry's fields with its inclusion proof against the checkpoint."""
    return [
        entry_fields(entry)
        | {
            "proof": {
                "leaf_index": entry.seq - 1,
                "tree_size": checkpoint.tree_size,
                "audit_path": paths[entry.seq],
            }
        }
        for entry in entries
    ]


def evidence_json(
    *,
    query: TrailQuery,
    entries: Sequence[LedgerEntry],
    checkpoint: LedgerCheckpoint,
    paths: Mapping[int, list[str]],
    generated_at: datetime,
    generated_by: str,
) -> bytes:
    """`entries.json`: the trail's filter, the signed checkpoint, and each entry with its proof."""
    body = {
        "format": FORMAT,
        "ledger": LEDGER_NAME,
        "trail": query.kind,
        "query": query.as_json(),
        "generated_at": canonical_time(generated_at),
        "generated_by": generated_by,
        "count": len(entries),
        "checkpoint": checkpoint.as_json(),
        "entries": evidence_entries(entries, checkpoint=checkpoint, paths=paths),
    }
    return (json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """SHA-256 of bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def signed_manifest(
    files: Mapping[str, bytes], *, generated_at: datetime, keyring: Keyring
) -> tuple[bytes, bytes]:
    """(`manifest.json`, `manifest.jws`): each file's SHA-256 and size, and a compact ES256 JWS
    with the archive key whose payload is exactly those manifest bytes."""
    manifest = {
        "format": FORMAT,
        "ledger": LEDGER_NAME,
        "generated_at": canonical_time(generated_at),
        "files": {name: {"sha256": sha256_hex(data), "bytes": len(data)} for name, data in files.items()},
    }
    payload = (json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")
    _kid, token = sign_jws(payload, keyring=keyring)
    return payload, token


def package(files: Mapping[str, bytes], *, generated_at: datetime, keyring: Keyring) -> bytes:
    """The evidence package: the files, then their signed manifest, as one ZIP."""
    manifest, token = signed_manifest(files, generated_at=generated_at, keyring=keyring)
    out = io.BytesIO()
    stamp = generated_at.timetuple()[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in (*files.items(), (MANIFEST_NAME, manifest), (MANIFEST_JWS_NAME, token)):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


# --- what people read: the CSV and the PDF -------------------------------------------------------


def _cell(value: Any) -> str:
    """Text for a CSV cell; a leading formula character is quoted so a spreadsheet never runs it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def table_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A table as CSV, UTF-8 with a byte-order mark so spreadsheets show the Chinese."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _escaped(text: str) -> str:
    """Text for a reportlab paragraph: its markup characters escaped, its line breaks kept."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")


def table_pdf(
    *,
    title: str,
    facts: Sequence[tuple[str, str]],
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    note: str,
    footer: str,
) -> bytes:
    """An A4 landscape PDF: a title, facts (label, value), a table repeating its header on every
    page, and a closing note; set in reportlab's built-in Chinese CID font. `footer` is printed
    at the foot of every page, its `%(page)s` filled with the page's number."""
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=title,
        author=LEDGER_NAME,
    )
    heading = ParagraphStyle("heading", fontName=PDF_FONT, fontSize=15, leading=20, spaceAfter=6)
    plain = ParagraphStyle("plain", fontName=PDF_FONT, fontSize=9, leading=12, wordWrap="CJK")
    small = ParagraphStyle("small", fontName=PDF_FONT, fontSize=7.5, leading=9.5, wordWrap="CJK")
    story: list[Any] = [Paragraph(_escaped(title), heading)]
    story += [Paragraph(f"{_escaped(name)}：{_escaped(value)}", plain) for name, value in facts]
    story.append(Spacer(1, 4 * mm))
    total = sum(widths)
    usable = landscape(A4)[0] - 24 * mm
    cells = [[Paragraph(_escaped(text), small) for text in header]]
    cells += [[Paragraph(_escaped(text), small) for text in row] for row in rows]
    table = Table(cells, colWidths=[usable * w / total for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [table, Spacer(1, 4 * mm), Paragraph(_escaped(note), plain)]

    def foot(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(PDF_FONT, 7.5)
        canvas.drawString(12 * mm, 6 * mm, footer % {"page": doc.page})
        canvas.restoreState()

    document.build(story, onFirstPage=foot, onLaterPages=foot)
    return out.getvalue()
