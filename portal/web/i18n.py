"""Languages for the pages: the message catalogues (Simplified Chinese first, English; gettext
`.po` files under portal/locale), the choice of language (`?lang=` then the `lang` cookie),
and the renderer that applies them."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from functools import partial
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from access.policy import REASONS
from archive.errors import ArchiveError
from portal.web.labels import LABELS

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "lang"
# China Standard Time: no daylight saving, so a fixed offset is exact.
CST = timezone(timedelta(hours=8), "CST")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# The catalogues: symbolic message keys, translated into each language (`make translations`).
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
LOCALES = {"zh": "zh_CN", "en": "en"}

Translate = Callable[..., str]

log = logging.getLogger(__name__)

# Where this environment variable is "1" (the test suite sets it) an unknown key raises; elsewhere
# it is logged and the key shown, so a missing message never takes a page down.
STRICT_ENV = "CASEVAULT_STRICT_MESSAGES"


class UnknownMessage(LookupError):
    """A message key, or an enumeration value, that no catalogue names."""


def _unknown(what: str, shown: str) -> str:
    """What a lookup of an unknown message gives: an error when strict, else `shown`, logged."""
    if os.environ.get(STRICT_ENV) == "1":
        raise UnknownMessage(what)
    log.warning("no message for %s", what)
    return shown


class _Unknown(NullTranslations):
    """The last fallback of each catalogue: it sees every key the catalogue does not hold."""

    def gettext(self, message: str) -> str:
        return _unknown(message, message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return _unknown(msgid1, msgid1 if n == 1 else msgid2)


def _catalogue(lang: str) -> Translations:
    """The catalogue of `lang`, compiled from its `.po` file when the portal starts."""
    with (LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as source:
        catalog = read_po(source, locale=LOCALES[lang], domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    translations = Translations(compiled, domain=DOMAIN)
    translations.add_fallback(_Unknown())
    return translations


CATALOGUES: dict[str, Translations] = {lang: _catalogue(lang) for lang in LANGS}


def translate(lang: str, key: str, /, **fields: object) -> str:
    """The message `key` in `lang` (Chinese if `lang` is not one of ours), `%(name)s` fields filled."""
    return CATALOGUES.get(lang, CATALOGUES[DEFAULT_LANG]).gettext(key) % fields


def label(lang: str, kind: str, value: object, /, *, otherwise: str | None = None, **fields: object) -> str:
    """The message of an enumeration value (`LABELS[kind]`); `otherwise` is the value whose
    message stands in for a value not listed. None or "" is no value: empty text."""
    if value is None or value == "":
        return ""
    names = LABELS[kind]
    key = names.get(str(value)) or (names[otherwise] if otherwise is not None else None)
    if key is None:
        return _unknown(f"{kind} {value!r}", str(value))
    return translate(lang, key, **fields)


def refusal(lang: str, exc: ArchiveError, untranslated: str | None = None) -> str:
    """What a domain error says in `lang`: the message of its code; without a code, `untranslated`
    (by default the error's own English text)."""
    if exc.code is None:
        return str(exc) if untranslated is None else untranslated
    key = LABELS["refusal"].get(exc.code)
    if key is None:
        return _unknown(f"refusal {exc.code!r}", str(exc) if untranslated is None else untranslated)
    return translate(lang, key, **{name: _said(lang, name, value) for name, value in exc.params.items()})


def _reason_pattern(template: str) -> re.Pattern[str]:
    """A policy reason's English template as a pattern that gives back its fields."""
    parts = re.split(r"\{(\w+)\}", template)  # text, field, text, field, ..., text
    return re.compile(
        "".join(f"(?P<{part}>.+?)" if index % 2 else re.escape(part) for index, part in enumerate(parts))
    )


REASON_PATTERNS = {code: _reason_pattern(template) for code, template in REASONS.items()}
# The kind that names a policy reason's field, where the field is an enumeration value.
REASON_FIELD_KINDS = {"role": "role", "action": "action", "grade": "clearance", "clearance": "clearance"}


def policy_reason(lang: str, reason: str) -> str:
    """A refusal reason of the access policy in `lang`, found by its code (`access.policy.REASONS`);
    a reason no code matches is shown as it is in English and left out elsewhere (the rule's own
    explanation says it then)."""
    for code, pattern in REASON_PATTERNS.items():
        found = pattern.fullmatch(reason or "")
        if found is None:
            continue
        fields = {}
        for name, value in found.groupdict().items():
            kind = REASON_FIELD_KINDS.get(name)
            known = kind is not None and value in LABELS[kind]
            fields[name] = label(lang, kind, value) if kind is not None and known else value
        return label(lang, "policy.reason", code, **fields)
    return reason if lang == "en" else ""


# What a finding's Chinese text may name by its identifier: record types and case.json fields.
_FINDING_TERMS = re.compile(
    r"( ?)(?<![A-Za-z0-9_])([a-z][a-z0-9]*(?:_[a-z0-9]+)+|place|collector|decision|application)"
    r"(?![A-Za-z0-9_])( ?)"
)


def finding_message(lang: str, finding: Mapping[str, Any]) -> str:
    """A compliance finding in `lang`. Chinese: its `message_zh` with the record types and fields it
    names by identifier (`rights_notice`, `returned_at`) given their Chinese names; findings sealed
    before they carried Chinese text keep their English. English: its `message`."""
    message = str(finding.get("message") or "")
    said = finding.get("message_zh")
    if lang == "en" or not said:
        return message

    def named(found: re.Match[str]) -> str:
        term = found.group(2)
        for kind in ("doc_type", "finding.field"):
            if term in LABELS[kind]:  # a Chinese name needs no spaces around it
                return label(lang, kind, term)
        return found.group()

    # "未填写返回时间（returned_at）" names the field twice once it is in Chinese: say it once.
    return re.sub(r"(\w{2,8})（\1）", r"\1", _FINDING_TERMS.sub(named, str(said)))


# A refusal's parameters that hold an enumeration value, and the kind that names it.
REFUSAL_PARAM_KINDS = {"step": "disclosure.step", "status": "handling.status"}


def _said(lang: str, name: str, value: object) -> object:
    """A refusal's parameter as its message shows it: an enumeration value by its name in `lang`,
    days as `YYYY-MM-DD`, several values listed."""
    kind = REFUSAL_PARAM_KINDS.get(name)
    if kind is not None and str(value) in LABELS[kind]:
        return label(lang, kind, value)
    if isinstance(value, date):
        return local_date(value)
    if isinstance(value, tuple | list):
        return ", ".join(map(str, value))
    return value


def choose_lang(request: Request) -> tuple[str, bool]:
    """The page language and whether `?lang=` chose it (then the cookie is to be set)."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked, True
    kept = request.cookies.get(LANG_COOKIE)
    return (kept if kept in LANGS else DEFAULT_LANG), False


def local_time(value: datetime | str | None, *, seconds: bool = False) -> str:
    """A timestamp as China Standard Time text, e.g. `2026-03-04 09:00` (naive: taken as it is)."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    pattern = "yyyy-MM-dd HH:mm:ss" if seconds and moment.tzinfo is not None else "yyyy-MM-dd HH:mm"
    zone = CST if moment.tzinfo is not None else None
    return format_datetime(moment, pattern, tzinfo=zone, locale=LOCALES[DEFAULT_LANG])


def local_date(value: date | datetime | str | None) -> str:
    """A date as `YYYY-MM-DD` (times are first moved to China Standard Time)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(CST)
    return format_date(value, "yyyy-MM-dd", locale=LOCALES[DEFAULT_LANG])


def _environment(lang: str) -> Environment:
    """The Jinja environment of `lang`: autoescaped, strict about undefined names, `_()` from the
    language's catalogue, with time filters."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html", "svg")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(CATALOGUES[lang], newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = local_time
    env.filters["day"] = local_date
    env.filters["pretty_json"] = lambda value: json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    return env


ENVIRONMENTS = {lang: _environment(lang) for lang in LANGS}


def static_url(request: Request, path: str) -> str:
    """Where this app serves a static file, also when mounted below a prefix (`/public`)."""
    return f"{request.scope.get('root_path', '')}/static/{path}"


def switch_url(request: Request, lang: str) -> str:
    """A relative link to the same page in another language, keeping the other parameters."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return "?" + urlencode([*kept, ("lang", lang)])


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page in the caller's language; `?lang=` also sets the `lang` cookie."""
    lang, chosen = choose_lang(request)
    other = "en" if lang == "zh" else "zh"
    values: Mapping[str, Any] = {
        "request": request,
        "lang": lang,
        "label": partial(label, lang),
        "static": partial(static_url, request),
        "switch_url": switch_url(request, other),
        **context,
    }
    html = ENVIRONMENTS[lang].get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if chosen:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            path="/",
            httponly=True,
            secure=request.url.scheme == "https",
            samesite="lax",
        )
    return response
