"""No loose ends on any page: every enumeration value, ledger outcome and action, and every refusal
reason of the access policy has a Chinese and an English name; pages in Chinese show no raw key
and no English sentence.

What counts as an English sentence: three or more ASCII words in a row in the text a person reads
(attributes meant for people included), outside `<code>`, `<pre>`, form values and the language
switch. Identifiers (`rights_notice`), commands and file names are in `<code>` on purpose."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

import access
import archive
import retention
from access import policy
from access.models import RequestStatus
from portal.web import i18n
from portal.web.labels import ENUM_KINDS, LABELS
from tests.support import disclosure_pages
from tests.support.portal import PASSWORD, Portal
from tests.support.web import CSRF_FIELD, session_csrf, signed_in

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")
FIELD = re.compile(r"%\((\w+)\)s")
KEYLIKE = re.compile(r"(?<![\w./-])[a-z][a-z0-9_]*(?:\.[a-z0-9_-]+)+(?![\w/-])", re.ASCII)
# Three ASCII words in a row: the shortest English sentence worth refusing on a Chinese page.
ENGLISH = re.compile(r"(?<![\w.-])[A-Za-z][A-Za-z']+(?:[ \t]*[,;:]?[ \t]+[A-Za-z][A-Za-z']*){2,}(?![\w.-])")


def _messages(lang: str) -> dict[str, str]:
    path = i18n.LOCALE_DIR / i18n.LOCALES[lang] / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as source:
        return {m.id: m.string for m in read_po(source, locale=i18n.LOCALES[lang]) if m.id}


MESSAGES = {lang: _messages(lang) for lang in i18n.LANGS}


def _enumerations() -> dict[type[StrEnum], str]:
    """Every StrEnum defined in archive/, access/ and retention/, with where it is defined."""
    found: dict[type[StrEnum], str] = {}
    for package in (archive, access, retention):
        for module_info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(module_info.name)
            for _, value in inspect.getmembers(module, inspect.isclass):
                if issubclass(value, StrEnum) and value.__module__ == module.__name__:
                    found[value] = module.__name__
    return found


def _literals(keyword: str) -> set[str]:
    """Every constant a call passes as `keyword=` (both arms of a choice), in the packages' code."""
    values: set[str] = set()
    for package in ("archive", "access", "retention", "portal"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.keyword) and node.arg == keyword:
                    arms = (
                        [node.value.body, node.value.orelse]
                        if isinstance(node.value, ast.IfExp)
                        else [node.value]
                    )
                    values |= {
                        a.value for a in arms if isinstance(a, ast.Constant) and isinstance(a.value, str)
                    }
    return values


def _named(lang: str, text: str) -> list[str]:
    """What is wrong with a message shown as a value's name: empty, a key, or not in its language."""
    wrong = []
    if not text.strip() or KEYLIKE.fullmatch(text.strip()) or text.strip() in LABELS:
        wrong.append("empty or a key")
    if lang == "zh" and not CJK.search(text):
        wrong.append("no Chinese")
    if lang == "zh" and ENGLISH.search(text):
        wrong.append(f"English words: {ENGLISH.search(text).group()!r}")  # type: ignore[union-attr]
    return wrong


def _sample_fields(key: str) -> dict[str, str]:
    return {name: "1" for name in FIELD.findall(MESSAGES["zh"][key])}


def test_every_enumeration_has_a_label_kind() -> None:
    enumerations = _enumerations()
    assert len(enumerations) >= 20, "the walk found the enumerations"
    missing = {f"{module}.{enum.__name__}" for enum, module in enumerations.items() if enum not in ENUM_KINDS}
    assert not missing, (
        f"name these enumerations' values in portal/web/labels.py ENUM_KINDS: {sorted(missing)}"
    )


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_enumeration_value_is_named_in_both_languages(lang: str) -> None:
    environment = i18n.ENVIRONMENTS[lang]
    shown = environment.from_string("{{ label(kind, value, **fields) }}")
    wrong = []
    for enum, kind in ENUM_KINDS.items():
        for member in enum:
            key = LABELS[kind].get(member.value)
            if key is None:
                wrong.append(f"{enum.__name__}.{member.name}: no key in LABELS[{kind!r}]")
                continue
            text = shown.render(
                label=lambda k, v, **f: i18n.label(lang, k, v, **f),
                kind=kind,
                value=member,
                fields=_sample_fields(key),
            )
            wrong += [f"{enum.__name__}.{member.name} ({key}): {w}" for w in _named(lang, text)]
            if text == key or (text == member.value and lang == "zh"):
                wrong.append(f"{enum.__name__}.{member.name}: shown as {text!r}")
    assert not wrong, wrong


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_ledger_outcome_and_action_is_named(lang: str) -> None:
    outcomes = _literals("outcome") | {"allowed", "denied", "intact", "failed"}
    outcomes |= {s.value for s in RequestStatus}  # a retrieval decision is ledgered with its status
    actions = {a for a in _literals("action") if "." in a} | {a.value for a in policy.Action}
    assert {"found", "delivered", "preparing"} <= outcomes and "auth.login" in actions
    wrong = [f"outcome {o!r}" for o in sorted(outcomes) if o not in LABELS["outcome"]]
    wrong += [f"action {a!r}" for a in sorted(actions) if a not in LABELS["action"]]
    assert not wrong, f"add to portal/web/labels.py: {wrong}"
    for kind, values in (("outcome", outcomes), ("action", actions)):
        for value in values:
            problems = _named(lang, i18n.label(lang, kind, value))
            assert not problems, (kind, value, problems)


def _refusals() -> list[policy.Decision]:
    """A refusal of every rule of `decide`, and more: every role × action on a few resources."""
    now = datetime(2026, 3, 5, tzinfo=UTC)
    material = policy.Resource(
        "record", "C1", "b1", "r1", "state_secret", "secret", None, None, None, None, frozenset()
    )
    request = policy.request_of("disclosure", case_no="C1", owner="someone", assignee="other")
    plain = policy.Resource("record", "C1", "b1", "r1", "none", None, None, None, None, None, frozenset())
    broken = policy.Resource(
        "record", "C1", "b1", None, "nonsense", None, None, None, None, None, frozenset()
    )
    admin = policy.account_of("sysadmin", roles={"sysadmin"})
    decisions = []
    for role in policy.Role:
        subject = policy.Subject(username="someone", role=role)
        for action in policy.Action:
            for resource in (material, plain, request, policy.collection("catalogue"), broken, admin):
                decision = policy.decide(subject, action, resource, policy.Context(now=now))
                if not decision.allowed:
                    decisions.append(decision)
    return decisions


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_refusal_reason_is_said_in_the_page_language(lang: str) -> None:
    refusals = _refusals()
    assert {d.code for d in refusals} >= {"role", "three_roles", "clearance", "own_request", "grant_needed"}
    assert policy.REASONS.keys() <= LABELS["policy.reason"].keys()
    for decision in refusals:
        assert decision.code in policy.REASONS, decision
        said = i18n.policy_reason(lang, decision.reason)
        assert said, decision.reason
        assert not _named(lang, said), (decision.reason, said, _named(lang, said))
    for code, template in policy.REASONS.items():
        filled = template.format(**{name: "x" for name in re.findall(r"\{(\w+)\}", template)})
        assert i18n.policy_reason(lang, filled) == i18n.label(lang, "policy.reason", code, **_fields_of(code))


def _fields_of(code: str) -> dict[str, str]:
    return {name: "x" for name in re.findall(r"\{(\w+)\}", policy.REASONS[code])}


def test_a_reason_no_code_names_is_left_out_of_a_chinese_page() -> None:
    assert i18n.policy_reason("zh", "something the policy never says") == ""
    assert i18n.policy_reason("en", "something the policy never says") == "something the policy never says"
    zh = i18n.policy_reason("zh", "role security_admin may not case.list")
    assert zh == "安全保密管理员无权“浏览案件目录”。"


def test_findings_name_record_types_and_fields_in_chinese() -> None:
    finding = {
        "message": "ex officio case has no initiation-stage record of doc_type filing_approval",
        "message_zh": "依职权启动的案件在立案环节缺少 filing_approval 记录",
    }
    assert i18n.finding_message("zh", finding) == "依职权启动的案件在立案环节缺少立案审批表记录"
    assert i18n.finding_message("en", finding) == finding["message"]
    lacking = {
        "message": "x",
        "message_zh": "记录 v1《录像》作为证据使用，但文字说明缺少 collector、collected_at、place",
    }
    shown = i18n.finding_message("zh", lacking)
    assert shown.endswith("文字说明缺少取证人、取证时间、取证地点")
    returned = {"message": "x", "message_zh": "记录 v1《录像》为异地执法，但未填写返回时间（returned_at）"}
    assert i18n.finding_message("zh", returned) == "记录 v1《录像》为异地执法，但未填写返回时间"


# --- the pages themselves -------------------------------------------------------------------


def _visible(html: str) -> str:
    """What a person reads on a Chinese page, less what is English on purpose: code, form values,
    the language switch."""
    html = re.sub(r"<(script|style|code|pre|textarea)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<a class="lang"[^>]*>.*?</a>', " ", html, flags=re.S)
    said = re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', html)
    text = re.sub(r"<[^>]+>", " ", html)
    return " ".join([text, *said]).replace("&amp;", "&")


def _loose_ends(html: str) -> list[str]:
    """Raw keys and English sentences on a Chinese page."""
    text = _visible(html)
    keys = set(MESSAGES["zh"])
    prefixes = {key.split(".", 1)[0] for key in keys}
    raw = [k for k in KEYLIKE.findall(text) if k in keys or k.split(".", 1)[0] in prefixes]
    return raw + [m.group() for m in ENGLISH.finditer(text)]


def test_the_check_finds_what_it_looks_for() -> None:
    assert _loose_ends("<p>refused by rule role: may not</p>") == ["refused by rule role: may not"]
    assert _loose_ends("<p>outcome.found</p>") == ["outcome.found"]
    assert _loose_ends('<p title="the database is down">数据库</p>') == ["the database is down"]
    assert not _loose_ends("<p>运行 <code>casevault verify --all</code>，SHA-256 与 SM3 摘要，HTTP 404</p>")


def _page(portal: Portal, path: str, status: int = 200, **kwargs: Any) -> str:
    answer = portal.client.get(path, params={"lang": "zh"}, headers={"Accept": "text/html"}, **kwargs)
    assert answer.status_code == status, (path, answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("text/html"), path
    return answer.text


@pytest.mark.store("file")
@pytest.mark.only_on("sqlite", why="the words a page shows do not depend on the database")
def test_chinese_pages_have_no_loose_ends(portal: Portal) -> None:
    """Pages of each role, refusals, errors and the public portal, in Chinese."""
    bundle = f"/bundles/{portal.bundle_id}"
    request_id = disclosure_pages.file_request(portal)
    seen: dict[str, list[str]] = {}

    def look(path: str, status: int = 200) -> str:
        html = _page(portal, path, status)
        if problems := _loose_ends(html):
            seen[path] = problems
        return html

    for path in (
        "/login",
        "/no-such-page",
        "/public/",
        "/public/login",
        "/public/register",
        "/public/nope",
        "/public/recorded-activities",
        "/public/disclosure-statistics",
    ):
        look(path, 200 if "no" not in path else 404)
    signed_in(portal, "archivist")
    for path in (
        "/",
        bundle,
        f"{bundle}/records/d2",
        "/retrievals/new",
        "/fixity",
        "/retention",
        "/retention/holds",
    ):
        look(path)
    look("/retention/schedule")
    look("/no-such-page", 404)
    look(f"{bundle}/records/no-such-record", 404)
    disclosure_pages.as_role(portal, "security_auditor")
    ledger = look("/ledger")
    assert "浏览案件目录" in ledger or "登录" in ledger
    look("/anomalies")
    look(f"{bundle}/records/d2", 403)  # three-role separation, said in Chinese
    look("/ledger/1")
    disclosure_pages.as_role(portal, "supervisor")
    refusal = look(f"{bundle}/records/d2", 403)
    assert "调取登记" in refusal
    look("/ledger", 403)
    form = look(f"/retrievals/new?bundle_id={portal.bundle_id}&record_id=v1")
    assert "法制" in form  # the supervisor's department, by its Chinese name
    look("/retrievals/mine")
    look("/notifications")
    disclosure_pages.as_role(portal, "archive_manager")
    look("/retrievals/pending")
    look("/register")
    look("/accountability")
    look("/accountability/print")
    look("/disclosures/dashboard")
    disclosure_pages.as_role(portal, "disclosure_officer")
    look("/disclosures")
    look(f"/disclosures/{request_id}")
    disclosure_pages.as_role(portal, "security_admin")
    look("/admin/users")
    look("/admin/users/new")
    look("/admin/users/supervisor")
    disclosure_pages.as_role(portal, "sysadmin")
    look("/admin/settings")
    look("/admin/activities")
    look("/calendar")
    token = session_csrf(portal)
    years = re.findall(r'action="/calendar/(\d{4})"', portal.client.get("/calendar").text)
    if years:
        bad = portal.client.post(
            f"/calendar/{years[0]}?lang=zh",
            data={"csrf_token": token, "table": f"{years[0]}-01-03 off"},
            headers={"Accept": "text/html"},
        )
        assert bad.status_code == 422
        assert "第 1 行" in bad.text
        if problems := _loose_ends(bad.text):
            seen["/calendar (bad table)"] = problems
    portal.client.cookies.clear()
    form = portal.client.get("/public/login").text
    signed = portal.client.post(
        "/public/login",
        data={
            "username": "zhangsan",
            "password": PASSWORD,
            "csrf_token": CSRF_FIELD.findall(form)[0],
            "next": "",
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    look("/public/disclosures")
    look(f"/public/disclosures/{request_id}")
    look("/public/disclosures/new")
    look("/public/disclosures/999999", 404)
    assert not seen, seen


TEMPLATES = sorted((ROOT / "portal" / "templates").rglob("*.html"))


def _literal_text(source: str) -> str:
    """A template's own words: what is left once Jinja's tags, comments and expressions are out."""
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}|\{\{.*?\}\}", " ", source, flags=re.S)
    return _visible(source)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "portal")))
def test_no_template_writes_words_of_its_own(template: Path) -> None:
    """Every text of every template comes from the catalogues: none writes an English sentence or
    a key as literal text (what it fills in is checked above and on the pages)."""
    assert len(TEMPLATES) > 40
    assert not _loose_ends(_literal_text(template.read_text(encoding="utf-8")))
