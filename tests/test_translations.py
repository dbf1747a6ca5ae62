"""The message catalogues: every key the code and templates use has a Chinese and an English text
with the same fields, no key is kept that nobody uses, the `.po` files are what `make
translations` would write, and pages in either language show no raw key."""

from __future__ import annotations

import ast
import functools
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from access.retrieval import Notice
from archive.errors import Refused
from portal.internal.retrieval.notices import notice_text
from portal.web import i18n
from portal.web.labels import LABELS
from tests.support.portal import Portal
from tests.support.web import signed_in

ROOT = Path(__file__).resolve().parent.parent
FIELD = re.compile(r"%\((\w+)\)")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Text that looks like a message key: dotted lower-case words (`nav.catalogue`, `public.err.x`).
KEYLIKE = re.compile(r"(?<![\w./-])[a-z][a-z0-9_]*(?:\.[a-z0-9_-]+)+(?![\w/-])", re.ASCII)


def _catalogue(lang: str) -> Catalog:
    path = i18n.LOCALE_DIR / i18n.LOCALES[lang] / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as source:
        return read_po(source, locale=i18n.LOCALES[lang])


def _messages(lang: str) -> dict[str, str]:
    return {m.id: m.string for m in _catalogue(lang) if m.id}


@functools.cache  # the tree does not change during a run; walking it is the slow part
def _extracted() -> list[str]:
    """The keys `pybabel extract -F babel.cfg` finds, in its sorted order."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = {message for _, _, message, _, _ in extract_from_dir(ROOT, method_map, options_map)}
    return sorted(m for m in found if isinstance(m, str))


def test_every_message_has_both_languages_with_the_same_fields() -> None:
    zh, en = _messages("zh"), _messages("en")
    assert zh.keys() == en.keys()
    for key in zh:
        assert zh[key].strip() and en[key].strip(), key
        assert set(FIELD.findall(zh[key])) == set(FIELD.findall(en[key])), key


def test_every_key_in_use_is_in_the_catalogues() -> None:
    for lang in i18n.LANGS:
        missing = set(_extracted()) - _messages(lang).keys()
        assert not missing, (lang, sorted(missing))


def test_every_catalogue_key_is_in_use() -> None:
    for lang in i18n.LANGS:
        unused = _messages(lang).keys() - set(_extracted())
        assert not unused, (lang, sorted(unused))


def test_catalogues_are_what_make_translations_writes() -> None:
    for lang in i18n.LANGS:
        catalogue = _catalogue(lang)
        assert [m.id for m in catalogue if m.id] == _extracted(), lang
        assert not catalogue.obsolete, lang
        assert not [m.id for m in catalogue if m.id and m.fuzzy], lang


def test_a_key_without_a_message_raises_under_the_suite_and_shows_itself_else(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(i18n.UnknownMessage):
        i18n.translate("en", "nav.no_such_key")
    with pytest.raises(i18n.UnknownMessage):
        i18n.label("en", "stage", "no_such_stage")
    monkeypatch.setenv(i18n.STRICT_ENV, "0")
    assert i18n.translate("en", "nav.no_such_key") == "nav.no_such_key"
    assert i18n.label("en", "stage", "no_such_stage") == "no_such_stage"
    assert "nav.no_such_key" in caplog.text


def _fixed_code(statement: ast.stmt) -> ast.expr | None:
    """The value of a class body's `code = …`, if the statement is one."""
    if isinstance(statement, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "code" for t in statement.targets
    ):
        return statement.value
    if (
        isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and statement.target.id == "code"
    ):
        return statement.value
    return None


def _error_codes() -> set[str]:
    """Every `code="domain.what"` an error is raised with (both arms of a choice), or that an error
    class fixes (`code = "domain.what"`)."""
    codes: set[str] = set()
    for package in ("archive", "access", "retention", "portal"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                arms: list[ast.expr | None] = []
                if isinstance(node, ast.keyword) and node.arg == "code":
                    value = node.value
                    arms = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
                elif isinstance(node, ast.ClassDef):
                    arms = [_fixed_code(statement) for statement in node.body]
                codes |= {a.value for a in arms if isinstance(a, ast.Constant) and "." in str(a.value)}
    return codes


def test_every_label_kind_is_looked_up() -> None:
    """A kind nobody names would keep its keys looking used."""
    sources = [p.read_text() for p in (ROOT / "portal" / "templates").rglob("*.html")]
    sources += [p.read_text() for p in (ROOT / "portal").rglob("*.py") if p.name != "labels.py"]
    named = {m for text in sources for m in re.findall(r"""["']([a-z0-9_.]+)["']""", text)}
    assert LABELS.keys() - {"refusal"} <= named, sorted(LABELS.keys() - named)


def test_every_error_code_has_a_message() -> None:
    codes = _error_codes()
    assert "schedule.min_months" in codes
    assert codes <= LABELS["refusal"].keys(), sorted(codes - LABELS["refusal"].keys())
    refused = Refused("count: footage is kept at least 6 months (art. 13)", code="schedule.min_months", n=6)
    assert i18n.refusal("zh", refused) == "音像记录至少保管 6 个月（第十三条）。"
    assert i18n.refusal("en", refused) == "Footage is kept at least 6 months (art. 13)."
    assert i18n.refusal("en", Refused("title: no code")) == "title: no code"


def test_every_notice_kind_is_worded_in_both_languages() -> None:
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    notices = [
        Notice(
            "pending",
            7,
            None,
            "深民防罚〔2026〕1号",
            at,
            {"requester": "李四", "department": "legal", "role": "supervisor", "records": 2},
        ),
        Notice(
            "decided", 7, 3, "深民防罚〔2026〕1号", at, {"status": "approved", "reason": "", "by": "陈军"}
        ),
        Notice(
            "decided",
            7,
            3,
            "深民防罚〔2026〕1号",
            at,
            {"status": "revoked", "reason": "复核已结束", "by": "陈军"},
        ),
        Notice("expiring", 7, 3, "深民防罚〔2026〕1号", at),
        Notice(
            "disclosure_due",
            9,
            None,
            "",
            at,
            {"tracking_code": "GK1", "days_left": 2, "due_on": date(2026, 3, 6)},
        ),
        Notice(
            "disclosure_due",
            9,
            None,
            "",
            at,
            {"tracking_code": "GK1", "days_left": -4, "due_on": date(2026, 3, 6)},
        ),
        Notice("disclosure_extension", 9, None, "", at, {"tracking_code": "GK1", "days": 5}),
        Notice("disclosure_new", 9, None, "", at, {"tracking_code": "GK1"}),
        Notice("disclosure_assigned", 9, None, "", at, {"tracking_code": "GK1", "by": "陈军"}),
        Notice(
            "disposition_pending",
            None,
            None,
            None,
            at,
            {"list": 4, "cases": 2, "action": "destroy", "by": "王芳"},
        ),
        Notice("fixity_failed", None, None, None, at, {"alert": 1, "bundle_id": "b1", "failures": 3}),
    ]
    zh = [notice_text("zh", n) for n in notices]
    assert zh[0] == "调取申请 #7 待审批：李四（法制）申请调取 深民防罚〔2026〕1号 的 2 份记录"
    assert zh[1:3] == [
        "调取申请 #7（深民防罚〔2026〕1号）已批准（陈军）",
        "调取申请 #7（深民防罚〔2026〕1号）已撤销授权（陈军）：复核已结束",
    ]
    assert zh[3] == "调取授权 #3（深民防罚〔2026〕1号）将于 2026-03-04 09:00 到期"
    assert zh[4:] == [
        "公开申请 GK1 还剩 2 个工作日（2026-03-06 到期）",
        "公开申请 GK1 已超期 4 个工作日",
        "公开申请 GK1 请求延期 5 个工作日，待审批",
        "新的公开申请 GK1 待分办",
        "公开申请 GK1 已由 陈军 分派给您办理",
        "处置清单 #4（销毁，2 件）待审批，鉴定人：王芳",
        "案卷包 b1 定期检测未通过（3 处问题），待确认",
    ]
    en = [notice_text("en", n) for n in notices]
    assert en[0].startswith("Retrieval request #7 awaits a decision: 李四 (Legal affairs) asks for 2")
    assert all(
        not CJK.search(
            text.replace("深民防罚〔2026〕1号", "")
            .replace("李四", "")
            .replace("复核已结束", "")
            .replace("陈军", "")
            .replace("王芳", "")
        )
        for text in en
    )


def _visible(html: str) -> str:
    """A page's text and its attributes meant for people (titles, labels, placeholders)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    said = re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', html)
    return " ".join([re.sub(r"<[^>]+>", " ", html), *said])


def _raw_keys(html: str) -> set[str]:
    keys = _messages("zh").keys()
    prefixes = {key.split(".", 1)[0] for key in keys}
    return {k for k in KEYLIKE.findall(_visible(html)) if k in keys or k.split(".", 1)[0] in prefixes}


@pytest.mark.store("file")
@pytest.mark.only_on("sqlite", why="the words a page shows do not depend on the database")
@pytest.mark.parametrize("lang", i18n.LANGS)
def test_pages_show_no_raw_key(portal: Portal, lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not strict here: a missing key would show itself, which is what this looks for.
    monkeypatch.setenv(i18n.STRICT_ENV, "0")
    anonymous = ["/login", "/public/login", "/public/register", "/no-such-page"]
    for path in anonymous:
        page = portal.client.get(path, params={"lang": lang}, headers={"Accept": "text/html"})
        assert page.status_code in (200, 404), path
        assert not _raw_keys(page.text), (path, _raw_keys(page.text))
    signed_in(portal, "archivist")
    for path in ("/", f"/bundles/{portal.bundle_id}", "/retrievals/new", "/no-such-page"):
        page = portal.client.get(path, params={"lang": lang}, headers={"Accept": "text/html"})
        assert page.status_code in (200, 404), path
        assert not _raw_keys(page.text), (path, _raw_keys(page.text))
        assert ('lang="zh-CN"' if lang == "zh" else 'lang="en"') in page.text
