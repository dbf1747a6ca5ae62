"""Messages of the retention schedule pages (保管期限表), Simplified Chinese first, then English."""

from __future__ import annotations

RETENTION_MESSAGES: dict[str, tuple[str, str]] = {
    "nav.schedule": ("保管期限表", "Retention schedule"),
    "bundle.disposition_date": ("保管期满日", "Disposition date"),
    "bundle.retention_rule": ("保管期限依据", "Retention rule"),
    "retention.term.permanent": ("永久", "permanent"),
    "retention.term.years": ("{n} 年", "{n} years"),
    "retention.term.months": ("{n} 个月", "{n} months"),
    "retention.term.with_case": ("随卷（与案卷同期）", "with the case file"),
    "retention.from.closed_at": ("自结案之日起", "from the case's closing"),
    "retention.from.created_at": ("自记录形成（录制）之日起", "from the record's making (recording)"),
    "retention.default_rule": (
        "未列入保管期限表的记录（默认期限）",
        "records no rule names (the default term)",
    ),
    "retention.rule_in_version": ("{code} {title} · 第 {version} 版", "{code} {title} · version {version}"),
    "retention.title": ("保管期限表", "Retention schedule"),
    "retention.kicker": ("档案保管", "Keeping the archive"),
    "retention.lead": (
        "每件记录按最具体的适用规则确定保管期限（同样具体时取较长者）；案卷的保管期满日取其记录中最长的期限，"
        "任一记录为永久则案卷永久保存。未列入本表的案卷记录按默认期限保管。每次修改生成新版本并记入访问台账。",
        "Each record is kept as its most specific rule says (the longer term when two are as specific); a "
        "case file is kept as long as its longest-kept record, permanently if any record is permanent. "
        "Records no rule names keep the default term. Every change makes a new version and is ledgered.",
    ),
    "retention.in_force": ("现行版本：第 {n} 版", "In force: version {n}"),
    "retention.default": (
        "默认期限：未列入本表的案卷记录自结案之日起保管 {n} 年（CASEVAULT_RETENTION_YEARS）。",
        "Default term: records the schedule does not name are kept {n} years from the case's closing "
        "(CASEVAULT_RETENTION_YEARS).",
    ),
    "retention.locks": (
        "对象存储的合规锁定（COMPLIANCE）只能延长、不能缩短：期限延长时同步延长案卷全部对象的锁定；"
        "期限缩短时数据库中的日期随之提前，锁定保持原日期，到期前任何人都无法删除。"
        "永久保存的案卷锁定 {years} 年，由 retention run 提前续期。",
        "The store's COMPLIANCE lock can be extended, never shortened: a longer term extends the lock of "
        "every object of the case file; a shorter one moves the date in the database while the lock "
        "stays where it was, and nothing can be removed before it ends. Permanent case files are "
        "locked {years} years ahead, renewed early by retention run.",
    ),
    "retention.rules": ("现行规则", "Rules in force"),
    "retention.no_rules": (
        "本版没有规则：全部记录按默认期限保管。",
        "No rules: every record keeps the default term.",
    ),
    "retention.col.code": ("编号", "Code"),
    "retention.col.title": ("类目", "Class"),
    "retention.col.enforcement": ("执法类别", "Enforcement"),
    "retention.col.record": ("记录类型", "Record"),
    "retention.col.evidence": ("作为证据", "Used as evidence"),
    "retention.col.term": ("保管期限", "Term"),
    "retention.col.from": ("起算", "Counted"),
    "retention.col.basis": ("依据", "Basis"),
    "retention.any": ("任意", "any"),
    "retention.evidence.yes": ("是", "yes"),
    "retention.evidence.no": ("否", "no"),
    "retention.edit": ("修改保管期限表", "Change the schedule"),
    "retention.edit.hint": (
        "新增规则，或按编号修改、废止现行规则。期限只能为永久、30 年、10 年或随卷；按月计的期限仅适用于"
        "未作为证据使用的音像记录，且不少于 6 个月。",
        "Add a rule, or change or retire one by its code. A term is permanent, 30 years, 10 years or with "
        "the case file; months are only for footage not used as evidence, and at least 6.",
    ),
    "retention.field.change": ("操作", "Change"),
    "retention.change.add": ("新增规则", "Add a rule"),
    "retention.change.change": ("修改规则", "Change a rule"),
    "retention.change.retire": ("废止规则", "Retire a rule"),
    "retention.change.seed": ("初始版本", "Initial version"),
    "retention.field.code": ("规则编号（修改、废止时）", "Rule code (to change or retire)"),
    "retention.field.title": ("类目名称", "Class name"),
    "retention.field.enforcement_type": ("执法类别", "Enforcement type"),
    "retention.field.kind": ("记录类型", "Record kind"),
    "retention.field.doc_type": ("文书类别", "Document type"),
    "retention.field.evidence": ("音像记录是否作为证据", "Footage used as evidence"),
    "retention.field.term": ("保管期限", "Term"),
    "retention.field.count": ("年数或月数", "Years or months"),
    "retention.field.counts_from": ("起算事件", "Counted from"),
    "retention.field.basis": ("依据", "Basis"),
    "retention.field.reason": ("修改理由", "Reason for the change"),
    "retention.submit": ("保存为新版本", "Save as a new version"),
    "retention.error": ("未保存：{message}", "Not saved: {message}"),
    "retention.conflict": (
        "保管期限表刚被他人修改，请查看最新版本后重新提交。",
        "Someone changed the schedule a moment ago; look at the new version and submit again.",
    ),
    "retention.versions": ("版本记录", "Versions"),
    "retention.version": ("第 {n} 版", "Version {n}"),
    "retention.version.meta": ("{at} · {by} · {change} {code}", "{at} · {by} · {change} {code}"),
    "retention.moves": ("本次修改调整了 {n} 个案卷版本的保管期满日", "This change moved {n} bundle(s)"),
    "retention.no_moves": ("本次修改未调整任何案卷的保管期满日。", "This change moved no bundle's date."),
    "retention.col.case": ("案号", "Case no."),
    "retention.col.version": ("版本", "Version"),
    "retention.col.old": ("原期满日", "Was"),
    "retention.col.new": ("新期满日", "Now"),
    "retention.col.lock": ("对象锁定", "Store lock"),
    "retention.lock.extended": ("已延长至 {date}", "extended to {date}"),
    "retention.lock.pending": ("待延长至 {date}", "to be extended to {date}"),
    "retention.lock.kept": ("保持原锁定（不可缩短）", "kept (cannot be shortened)"),
}
