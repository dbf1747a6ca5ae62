"""Trails a court accepts: one person's, case's or record's entries with where from and why, the
CSV, and the signed evidence package that a stand-alone script checks without casevault."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text

from access import checkpoints, ledger
from access.ledger import LedgerEntry
from archive.seal import Keyring
from portal.internal.ledger import operations as ledger_operations
from tests.support import disclosure_pages
from tests.support.ledger import drop_ledger_triggers
from tests.support.portal import Portal, username

pytestmark = pytest.mark.store("file")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "verify_evidence.py"
AUDITOR = "security_auditor"
OTHERS = ("archivist", "archive_manager", "supervisor", "disclosure_officer", "security_admin", "sysadmin")
C1, C2 = "深民防罚〔2026〕901号", "深民防罚〔2026〕902号"


def _at(day: int, hour: int = 2) -> datetime:
    return datetime(2026, 5, day, hour, tzinfo=UTC)


# (name, actor, case, record, source, outcome, detail, time)
PLANTED = [
    (
        "e1",
        "alice",
        C1,
        "r1",
        "10.0.0.1",
        "denied",
        {"rule": "clearance", "reason": "needs clearance secret; the user has none", "role": "archivist"},
        _at(1),
    ),
    (
        "e2",
        "alice",
        C2,
        "r1",
        "10.0.0.2",
        "allowed",
        {"rule": "role", "reason": "role archivist may record.view", "role": "archivist"},
        _at(2),
    ),
    (
        "e3",
        "bob",
        C1,
        "r1",
        "10.0.0.3",
        "allowed",
        {"rule": "grant", "reason": "inside retrieval grant 7", "grant": 7, "role": "supervisor"},
        _at(3),
    ),
    (
        "e4",
        "bob",
        C1,
        "r2",
        "10.0.0.4",
        "denied",
        {
            "rule": "grant",
            "reason": "no approved, unexpired, unrevoked grant covers this record and action",
            "role": "supervisor",
        },
        _at(4),
    ),
    (
        "e5",
        "alice",
        C1,
        None,
        "10.0.0.5",
        "allowed",
        {"rule": "role", "reason": "role archivist may bundle.read", "role": "archivist"},
        _at(5),
    ),
]
REASONS_ZH = {
    "e1": "需要机密级权限，当前用户为无（不可阅涉密件）。",
    "e2": "档案管理员的角色权限",
    "e3": "在调取授权第 7 号范围内",
    "e4": "没有已批准、在有效期内且未撤销的调取授权涵盖此记录和操作。",
    "e5": "档案管理员的角色权限",
}


def _plant(portal: Portal) -> dict[str, int]:
    """The planted entries' sequence numbers by name."""
    seqs = {}
    with portal.wired.sessions() as session:
        for name, actor, case_no, record, source, outcome, detail, at in PLANTED:
            action = "record.view" if record else "bundle.read"
            entry = ledger.append(
                session,
                actor=actor,
                action=action,
                outcome=outcome,
                case_no=case_no,
                bundle_id="b-" + case_no[-5:-1],
                record_id=record,
                source=source,
                detail=detail,
                at=at,
            )
            seqs[name] = entry.seq
        session.commit()
    return seqs


def _trail(portal: Portal, **params: str) -> dict[str, Any]:
    answer = portal.client.get("/api/v1/trails", params=params, headers=portal.as_role(AUDITOR))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_each_trail_kind_lists_exactly_its_entries_with_source_and_reason(portal: Portal) -> None:
    seqs = _plant(portal)
    names = {seq: name for name, seq in seqs.items()}

    def listed(**params: str) -> list[str]:
        body = _trail(portal, **params)
        assert body["count"] == len(body["entries"])
        return [names.get(e["seq"], f"other {e['seq']}") for e in body["entries"]]

    assert listed(actor="alice") == ["e5", "e2", "e1"]
    assert listed(actor="bob") == ["e4", "e3"]
    assert listed(case_no=C1) == ["e5", "e4", "e3", "e1"]
    assert listed(case_no=C2) == ["e2"]
    assert listed(case_no=C1, record="r1") == ["e3", "e1"]
    assert listed(record="r1") == ["e3", "e2", "e1"]
    assert listed(actor="alice", case_no=C1) == ["e5", "e1"]
    # a period: China-time dates, the end date included
    assert listed(case_no=C1, since="2026-05-03", until="2026-05-04") == ["e4", "e3"]
    assert listed(actor="alice", since="2026-05-02T00:00:00+00:00") == ["e5", "e2"]
    assert listed(actor="nobody") == []

    body = _trail(portal, case_no=C1)
    assert body["trail"] == "case" and body["query"]["case_no"] == C1
    for entry in body["entries"]:
        name = names[entry["seq"]]
        planted = next(p for p in PLANTED if p[0] == name)
        assert entry["source"] == planted[4] and entry["outcome"] == planted[5]
        assert entry["reason"] == planted[6]["reason"]
        assert entry["reason_zh"] == REASONS_ZH[name], (name, entry["reason_zh"])
    assert _trail(portal, record="r1", case_no=C1)["trail"] == "record"
    assert _trail(portal, actor="bob")["trail"] == "person"

    # A real refusal: the supervisor asks for footage without a grant, from the test client's address.
    supervisor = portal.as_role("supervisor")
    url = f"/api/v1/bundles/{portal.bundle_id}/records/v1/content"
    assert portal.client.get(url, headers=supervisor).status_code == 403
    own = _trail(portal, actor=username("supervisor"))["entries"]
    refused = [e for e in own if e["action"] == "record.view"]
    assert len(refused) == 1 and refused[0]["outcome"] == "denied"
    assert refused[0]["source"] == "testclient" and refused[0]["record_id"] == "v1"
    assert refused[0]["reason_zh"] == "上级部门须经调取登记批准后才能查看本案。"
    assert refused[0]["role"] == "supervisor" and refused[0]["rule"] == "grant"

    # paging
    first = _trail(portal, case_no=C1, limit="2")
    assert [names[e["seq"]] for e in first["entries"]] == ["e5", "e4"] and first["count"] == 4
    rest = _trail(portal, case_no=C1, limit="2", before=str(first["next_before"]))
    assert [names[e["seq"]] for e in rest["entries"]] == ["e3", "e1"]

    # every look is in the ledger, with what was asked
    with portal.wired.sessions() as session:
        looks = session.scalars(
            select(LedgerEntry).where(LedgerEntry.action == "trail.read").order_by(LedgerEntry.seq)
        ).all()
    assert looks and all(e.actor == username(AUDITOR) and e.outcome == "allowed" for e in looks)
    assert looks[0].detail["trail"]["actor"] == "alice"


def test_a_trail_needs_a_person_case_or_record_and_dates_that_parse(portal: Portal) -> None:
    auditor = portal.as_role(AUDITOR)
    for params, field in (
        ({}, "actor"),
        ({"actor": "  "}, "actor"),
        ({"actor": "alice", "since": "2026-13-01"}, "since"),
        ({"actor": "alice", "since": "2026-05-03", "until": "2026-05-01"}, "until"),
        ({"actor": "alice", "since": "2026-05-03T09:00:00"}, "since"),  # a time without its offset
    ):
        for path in ("/api/v1/trails", "/api/v1/trails.csv", "/api/v1/trails/evidence"):
            answer = portal.client.get(path, params=params, headers=auditor)
            assert answer.status_code == 422, (path, params, answer.text)
            assert field in json.dumps(answer.json()["detail"]), (path, params, answer.text)


def test_other_roles_are_refused_and_the_refusal_ledgered(portal: Portal) -> None:
    _plant(portal)
    paths = ("/api/v1/trails", "/api/v1/trails.csv", "/api/v1/trails/evidence")
    for role in OTHERS:
        for path in paths:
            answer = portal.client.get(path, params={"actor": "alice"}, headers=portal.as_role(role))
            assert answer.status_code == 403, (role, path)
            assert answer.json()["detail"]["rule"] in {"role", "three-role-separation"}
    assert portal.client.get("/api/v1/trails", params={"actor": "alice"}).status_code == 401
    with portal.wired.sessions() as session:
        refused = session.execute(
            select(LedgerEntry.actor, LedgerEntry.action).where(
                LedgerEntry.action.in_(("trail.read", "trail.export")), LedgerEntry.outcome == "denied"
            )
        ).all()
    for role in OTHERS:
        mine = [action for actor, action in refused if actor == username(role)]
        assert sorted(mine) == ["trail.export", "trail.export", "trail.read"], (role, mine)
    disclosure_pages.as_role(portal, "archivist")
    page = portal.client.get("/trails?actor=alice", headers={"Accept": "text/html"})
    assert page.status_code == 403 and "审计轨迹" not in page.text.split("<main", 1)[-1][:200]


@pytest.mark.only_on("sqlite", why="the CSV's columns and words do not depend on the database")
def test_csv_has_chinese_headers_and_one_row_per_entry(portal: Portal) -> None:
    seqs = _plant(portal)
    answer = portal.client.get("/api/v1/trails.csv", params={"case_no": C1}, headers=portal.as_role(AUDITOR))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for spreadsheets
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "seq 序号",
        "at 时间",
        "actor 人员",
        "name 姓名",
        "role 角色",
        "action 操作",
        "case_no 案号",
        "record_id 记录",
        "source 来源地址",
        "outcome 结果",
        "reason 原因",
        "entry_hash 条目哈希",
        "action_code 操作代码",
    ]
    body = rows[1:]
    assert [int(r[0]) for r in body] == [seqs[n] for n in ("e1", "e3", "e4", "e5")]  # oldest first
    first = dict(zip(rows[0], body[0], strict=True))
    assert first["at 时间"] == "2026-05-01 10:00:00"  # China time
    assert first["actor 人员"] == "alice" and first["role 角色"] == "档案管理员"
    assert first["action 操作"] == "查看记录" and first["action_code 操作代码"] == "record.view"
    assert first["outcome 结果"] == "拒绝" and first["source 来源地址"] == "10.0.0.1"
    assert first["reason 原因"] == REASONS_ZH["e1"] and first["record_id 记录"] == "r1"
    with portal.wired.sessions() as session:
        export = session.scalars(
            select(LedgerEntry).where(LedgerEntry.action == "trail.export").order_by(LedgerEntry.seq.desc())
        ).first()
    assert export is not None and export.detail["format"] == "csv" and export.detail["trail"]["case_no"] == C1


# --- the evidence package and its stand-alone verifier --------------------------------------------


def _verify(package: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The stand-alone script run as an outsider would: `python verify_evidence.py PACKAGE`,
    outside the repository, with nothing of casevault on its path."""
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), str(package), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=package.parent,
    )


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _repack(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_the_verifier_imports_nothing_from_casevault() -> None:
    imported = set()
    for node in ast.walk(ast.parse(SCRIPT.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported - set(sys.stdlib_module_names) <= {"jose", "__future__"}
    assert "standard library" in (SCRIPT.read_text(encoding="utf-8").split('"""')[1])


def test_evidence_package_verifies_and_each_alteration_is_named(portal: Portal, tmp_path: Path) -> None:
    seqs = _plant(portal)
    with portal.wired.sessions() as session:
        assert checkpoints.latest(session) is None  # none yet: the export signs one that covers the entries
    answer = portal.client.get(
        "/api/v1/trails/evidence", params={"case_no": C1}, headers=portal.as_role(AUDITOR)
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    files = _files(answer.content)
    assert set(files) == {
        "trail.pdf",
        "entries.json",
        "jwks.json",
        "README.txt",
        "manifest.json",
        "manifest.jws",
    }
    assert files["trail.pdf"].startswith(b"%PDF") and b"STSong-Light" in files["trail.pdf"]
    printed = PdfReader(io.BytesIO(files["trail.pdf"])).pages[0].extract_text()
    assert f"案件 {C1} 的审计轨迹" in printed and "第 1 页" in printed
    assert "来源地址" in printed and "10.0.0.4" in printed and "在调取授权第 7 号范围内" in printed
    with portal.wired.sessions() as session:
        e4 = session.get(LedgerEntry, seqs["e4"])
        assert e4 is not None and e4.entry_hash[:12] in printed  # each row names its entry's hash
    body = json.loads(files["entries.json"])
    assert [e["seq"] for e in body["entries"]] == [seqs[n] for n in ("e1", "e3", "e4", "e5")]
    assert body["count"] == 4 and body["trail"] == "case" and body["query"]["case_no"] == C1
    with portal.wired.sessions() as session:
        latest = checkpoints.latest(session)
        assert latest is not None and latest.tree_size >= max(seqs.values())
        assert body["checkpoint"] == latest.as_json()
        export = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "trail.export")).one()
    assert export.outcome == "allowed" and export.detail["format"] == "evidence"
    assert "verify_evidence.py" in files["README.txt"].decode("utf-8")

    package = tmp_path / "evidence.zip"
    package.write_bytes(answer.content)
    ok = _verify(package)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK:") and "4 of 4" in ok.stdout and latest.kid in ok.stdout
    published = tmp_path / "published-jwks.json"
    published.write_text(json.dumps(portal.wired.keyring.jwks()), encoding="utf-8")
    assert _verify(package, "--jwks", published).returncode == 0

    e3 = seqs["e3"]

    def altered(name: str, change: Any) -> subprocess.CompletedProcess[str]:
        copy = json.loads(files["entries.json"])
        change(copy)
        changed = {**files, "entries.json": json.dumps(copy, ensure_ascii=False).encode("utf-8")}
        return _verify(_repack(tmp_path / f"{name}.zip", changed))

    def entry(body: dict[str, Any]) -> dict[str, Any]:
        return next(e for e in body["entries"] if e["seq"] == e3)

    # an entry's content altered: named, even though the manifest is the first thing to fail
    result = altered("actor", lambda b: entry(b).update(actor="mallory"))
    assert result.returncode == 1
    assert f"entry {e3}: its content does not match its hash" in result.stdout
    assert "manifest: entries.json" in result.stdout
    result = altered("reason", lambda b: entry(b)["detail"].update(reason="changed"))
    assert result.returncode == 1 and f"entry {e3}:" in result.stdout
    # a proof altered
    result = altered("path", lambda b: entry(b)["proof"]["audit_path"].__setitem__(0, "00" * 32))
    assert result.returncode == 1 and f"entry {e3}: its inclusion proof does not lead" in result.stdout
    result = altered("short", lambda b: entry(b)["proof"]["audit_path"].pop())
    assert result.returncode == 1 and f"entry {e3}:" in result.stdout

    # an entry rehashed by the forger: its hash fits, the proof does not
    def rehash(b: dict[str, Any]) -> None:
        forged = entry(b)
        forged["actor"] = "mallory"
        fields = {
            k: forged[k]
            for k in (
                "action",
                "actor",
                "at",
                "bundle_id",
                "case_no",
                "detail",
                "outcome",
                "prev_hash",
                "record_id",
                "seq",
                "source",
            )
        }
        forged["entry_hash"] = ledger.hash_body(ledger.canonical_json(fields))

    result = altered("rehashed", rehash)
    assert result.returncode == 1 and f"entry {e3}: its inclusion proof does not lead" in result.stdout
    # the manifest altered
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["trail.pdf"]["sha256"] = "0" * 64
    bad = {**files, "manifest.json": json.dumps(manifest).encode()}
    result = _verify(_repack(tmp_path / "manifest.zip", bad))
    assert (
        result.returncode == 1 and "manifest: manifest.json is not what manifest.jws signs" in result.stdout
    )
    # a file swapped under the manifest
    result = _verify(_repack(tmp_path / "pdf.zip", {**files, "trail.pdf": b"%PDF-1.4 another"}))
    assert result.returncode == 1 and "manifest: trail.pdf: SHA-256" in result.stdout
    # the JWKS key swapped for another's
    stranger = Keyring(tmp_path / "stranger")
    stranger.signing_key()
    swapped = {**files, "jwks.json": json.dumps(stranger.jwks()).encode()}
    result = _verify(_repack(tmp_path / "jwks.zip", swapped))
    assert result.returncode == 1
    assert "checkpoint: key id" in result.stdout and "is not in the JWKS" in result.stdout
    assert "manifest: jwks.json" in result.stdout
    theirs = tmp_path / "stranger-jwks.json"
    theirs.write_text(json.dumps(stranger.jwks()), encoding="utf-8")
    assert _verify(package, "--jwks", theirs).returncode == 1
    # not a package at all
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert _verify(tmp_path / "junk.zip").returncode == 2


@pytest.mark.only_on("sqlite", why="which checkpoint is used does not depend on the database")
def test_the_latest_checkpoint_is_used_when_it_covers_the_trail(portal: Portal, tmp_path: Path) -> None:
    _plant(portal)
    made = ledger_operations.checkpoint_ledger(portal.wired, force=True)
    assert made is not None
    answer = portal.client.get(
        "/api/v1/trails/evidence", params={"actor": "bob"}, headers=portal.as_role(AUDITOR)
    )
    assert answer.status_code == 200
    body = json.loads(_files(answer.content)["entries.json"])
    assert body["checkpoint"]["tree_size"] == made.tree_size  # no new one signed for it
    package = tmp_path / "bob.zip"
    package.write_bytes(answer.content)
    assert _verify(package).returncode == 0


def test_no_package_vouches_for_an_entry_altered_in_the_database(portal: Portal) -> None:
    seqs = _plant(portal)
    with portal.wired.engine.begin() as conn:
        drop_ledger_triggers(conn, "ledger_entries")
        conn.execute(
            text("UPDATE ledger_entries SET source = '10.9.9.9' WHERE seq = :seq"), {"seq": seqs["e3"]}
        )
    answer = portal.client.get(
        "/api/v1/trails/evidence", params={"actor": "bob"}, headers=portal.as_role(AUDITOR)
    )
    assert answer.status_code == 409
    assert f"ledger entry {seqs['e3']}: content does not match its hash" in answer.json()["detail"]
    with portal.wired.sessions() as session:
        assert checkpoints.latest(session) is None  # nothing signed over it either
        exports = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "trail.export")).all()
    assert [e.outcome for e in exports] == ["allowed", "failed"]  # what was let, and how it ended
    assert "content does not match its hash" in exports[1].detail["error"]


# --- the page ------------------------------------------------------------------------------------

KEYLIKE = re.compile(r"(?<![\w./-])[a-z][a-z0-9_]*(?:\.[a-z0-9_-]+)+(?![\w/-])", re.ASCII)
ENGLISH = re.compile(r"(?<![\w.-])[A-Za-z][A-Za-z']+(?:[ \t]*[,;:]?[ \t]+[A-Za-z][A-Za-z']*){2,}(?![\w.-])")


def _visible(html: str) -> str:
    html = re.sub(r"<(script|style|code|pre|textarea)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<a class="lang"[^>]*>.*?</a>', " ", html, flags=re.S)
    said = re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', html)
    return " ".join([re.sub(r"<[^>]+>", " ", html), *said]).replace("&amp;", "&")


@pytest.mark.only_on("sqlite", why="the words a page shows do not depend on the database")
def test_the_page_says_everything_in_chinese_and_links_from_the_ledger(portal: Portal) -> None:
    seqs = _plant(portal)
    disclosure_pages.as_role(portal, AUDITOR)
    ledger_page = portal.client.get("/ledger?lang=zh").text
    assert "/trails?actor=alice" in ledger_page
    assert "/trails?case_no=" in ledger_page and "record=r1" in ledger_page
    entry_page = portal.client.get(f"/ledger/{seqs['e3']}").text
    assert "/trails?actor=bob" in entry_page and "此记录的审计轨迹" in entry_page

    page = portal.client.get("/trails", params={"case_no": C1, "lang": "zh"})
    assert page.status_code == 200, page.text
    html = page.text
    assert f"案件 {C1} 的审计轨迹" in html
    assert "查看记录" in html and "拒绝" in html and "10.0.0.4" in html
    for reason in (REASONS_ZH["e1"], REASONS_ZH["e3"], REASONS_ZH["e4"]):
        assert reason in html
    assert "/api/v1/trails.csv?case_no=" in html and "/api/v1/trails/evidence?case_no=" in html
    text = _visible(html)
    assert not [
        k for k in KEYLIKE.findall(text) if k.startswith(("record.", "bundle.", "trails.", "action."))
    ]
    assert not ENGLISH.findall(text), ENGLISH.findall(text)
    assert "{" not in text and "grant 7" not in text  # no JSON, no English reason
    for kind, params in (("person", {"actor": "alice"}), ("record", {"case_no": C1, "record": "r1"})):
        shown = portal.client.get("/trails", params={**params, "lang": "zh"})
        assert shown.status_code == 200, kind
        assert not ENGLISH.findall(_visible(shown.text)), (kind, ENGLISH.findall(_visible(shown.text)))
    assert "Audit trail of case" in portal.client.get("/trails", params={"case_no": C1, "lang": "en"}).text

    form = portal.client.get("/trails?lang=zh")
    assert form.status_code == 200 and "按人员、案件或记录查看" in form.text
    bad = portal.client.get("/trails", params={"actor": "alice", "since": "05/01/2026", "lang": "zh"})
    assert bad.status_code == 422 and "起始日期“05/01/2026”不是日期" in bad.text
    backwards = portal.client.get(
        "/trails", params={"actor": "alice", "since": "2026-05-03", "until": "2026-05-01", "lang": "zh"}
    )
    assert backwards.status_code == 422 and "截止日期须晚于起始日期" in backwards.text
    csv_link = portal.client.get("/api/v1/trails.csv", params={"case_no": C1})  # the page's link, by cookie
    assert csv_link.status_code == 200 and csv_link.content.startswith(b"\xef\xbb\xbf")
