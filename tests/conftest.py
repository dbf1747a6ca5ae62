"""Shared fixtures: real PostgreSQL and SQLite, a real S3 API server, real MP4 footage.

With CI=true a missing service fails the run; elsewhere the tests that need it are skipped
with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from portal.context import Wired, wire
from portal.settings import Settings

CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get(
    "CASEVAULT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _missing(service: str, why: str) -> None:
    message = f"{service} is not available: {why}"
    if CI:
        pytest.fail(message + " (CI=true: a missing service fails the run)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- databases -------------------------------------------------------------------------------


def _pg_engine_url() -> str:
    return "postgresql+psycopg://" + PG_URL.split("://", 1)[1]


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    try:
        engine = create_engine(_pg_engine_url())
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return _missing("PostgreSQL", f"{PG_URL}: {exc.__class__.__name__}") or False
    return True


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'casevault.db'}"
        return
    request.getfixturevalue("postgres_available")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_engine_url())
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


# --- the S3 API ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 API server over HTTP (moto's standalone server) on a free loopback port."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server"
    )
    if server is None:
        _missing("S3 API server", "moto_server not installed (pip install 'moto[server]')")
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    else:
        proc.kill()
        _missing("S3 API server", "moto_server did not start within 30 s")
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture
def s3_url(s3_endpoint: str) -> str:
    """A fresh bucket's store URL."""
    return f"s3://testing:testing@{s3_endpoint}/cv-{uuid.uuid4().hex[:16]}?secure=false"


@pytest.fixture(params=["file", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store in turn: the embedded FileStore and S3Store against the S3 API server."""
    if request.param == "file":
        return f"file://{tmp_path / 'objects'}"
    return str(request.getfixturevalue("s3_url"))


# --- the wired archive and its command line --------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str, store_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        store=store_url,
        s3_part_size=5 << 20,
    )


@pytest.fixture
def wired(settings: Settings) -> Iterator[Wired]:
    w = wire(settings)
    yield w
    w.engine.dispose()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run `casevault ARGS…` in-process against the test's settings."""
    from portal.cli import app

    env = {
        "CASEVAULT_DATA_DIR": str(settings.data_dir),
        "CASEVAULT_DATABASE_URL": settings.database_url or "",
        "CASEVAULT_STORE": settings.store or "",
        "CASEVAULT_S3_PART_SIZE": str(settings.s3_part_size),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run


# --- deposit folders -------------------------------------------------------------------------


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        _missing("ffmpeg", "install the Debian package ffmpeg")
    return str(found)


@pytest.fixture(scope="session")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-second H.264 MP4 with audio, made once per session."""
    out = tmp_path_factory.mktemp("footage") / "clip.mp4"
    subprocess.run(
        [_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=2",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libx264",
         "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out)],
        check=True,
    )
    return out


def pdf_bytes(title: str) -> bytes:
    """A small but real one-page PDF."""
    body = f"BT /F1 12 Tf 72 720 Td ({title}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(body)).encode() + b" >>\nstream\n" + body + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer << /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def case_document(case_no: str = "深民防罚〔2026〕12号") -> dict[str, Any]:
    """A complete, compliant penalty case as case.json would describe it."""

    def text_record(rid: str, path: str, doc_type: str, stage: str, level: str = "none") -> dict:
        return {
            "id": rid, "path": path, "kind": "text", "doc_type": doc_type, "stage": stage,
            "title": f"{doc_type} {rid}", "created_at": "2026-03-05T10:00:00+08:00",
            "classification": {"level": level},
        }

    return {
        "case_no": case_no,
        "title": "某商场擅自改变人防工程用途案",
        "enforcement_type": "penalty",
        "initiation": {"mode": "ex_officio", "source": "日常巡查", "filed_at": "2026-03-02"},
        "parties": [{"name": "某商业管理有限公司", "kind": "organization",
                     "id_number": "914403000000000000", "role": "party"}],
        "officers": [{"name": "张三", "badge_no": "44030001"}, {"name": "李四", "badge_no": "44030002"}],
        "closed_at": "2026-06-30",
        "records": [
            text_record("s1", "records/案件来源登记表.pdf", "case_source", "initiation"),
            text_record("s2", "records/立案审批表.pdf", "filing_approval", "initiation"),
            text_record("i1", "records/询问笔录.pdf", "inquiry_transcript", "investigation",
                        "personal_privacy"),
            text_record("i2", "records/告知书.pdf", "rights_notice", "investigation"),
            text_record("d1", "records/审查意见.pdf", "review_record", "decision"),
            text_record("d2", "records/处罚决定书.pdf", "decision", "decision"),
            text_record("e1", "records/送达回证.pdf", "service_receipt", "service"),
            text_record("c1", "records/结案报告.pdf", "closing_report", "archiving"),
            {
                "id": "v1", "path": "records/现场检查.mp4", "kind": "av", "doc_type": "av_footage",
                "stage": "investigation", "title": "现场检查录像",
                "created_at": "2026-03-04T09:00:00+08:00", "classification": {"level": "none"},
                "av": {
                    "device_id": "DSJ-0012", "recorded_by": ["44030001"],
                    "activity": "on_site_inspection", "started_at": "2026-03-04T09:00:00+08:00",
                    "ended_at": "2026-03-04T09:40:00+08:00", "stored_at": "2026-03-04T17:10:00+08:00",
                    "location": "某商场地下二层", "continuous_required": False,
                    "voice_statement": True, "interruptions": [], "remote_duty": False,
                    "returned_at": None,
                },
                "evidence": {"collector": "张三", "collected_at": "2026-03-04T09:00:00+08:00",
                             "place": "某商场地下二层"},
            },
        ],
    }


@pytest.fixture
def make_case(tmp_path: Path, footage: Path) -> Callable[..., Path]:
    """Write a deposit folder: case.json and the files it names (PDFs, real MP4 footage)."""

    def make(document: dict[str, Any] | None = None, *, name: str | None = None) -> Path:
        document = document or case_document()
        folder = tmp_path / "sips" / (name or uuid.uuid4().hex[:8])
        folder.mkdir(parents=True)
        for record in document["records"]:
            target = folder / record["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if record["kind"] == "av":
                shutil.copyfile(footage, target)
            else:
                target.write_bytes(pdf_bytes(record["id"]))
        (folder / "case.json").write_text(
            json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        return folder

    return make
