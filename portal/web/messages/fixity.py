"""Page text of the fixity audits (定期检测): key → (Chinese, English)."""

from __future__ import annotations

FIXITY_MESSAGES: dict[str, tuple[str, str]] = {
    "nav.fixity": ("定期检测", "Fixity"),
    "nav.fixity_n": ("定期检测（{n} 条未处理告警）", "Fixity ({n} open alerts)"),
    "fixity.title": ("定期检测", "Fixity audits"),
    "fixity.kicker": ("长期保存 · 四性检测", "Long-term storage checks"),
    "fixity.lead": (
        "每个案卷包每 {days} 天至少复核一次：两种摘要、封存签名，以及每个对象在存储中的保留锁。"
        "最久未复核的先检测。",
        "Every bundle is re-verified at least every {days} days: both digests, the seal, and each "
        "object's retention lock in the store. The longest unverified go first.",
    ),
    "fixity.summary": (
        "共 {total} 个案卷包，{overdue} 个已超期未检测，{failed} 个最近一次检测失败。",
        "{total} bundles; {overdue} overdue for an audit; {failed} failed their last audit.",
    ),
    "fixity.chart": ("距上次复核的天数", "Days since last verified"),
    "fixity.chart_desc": (
        "按距上次复核（检测或封存）的天数分组的案卷包数量；红色为超过 {days} 天。",
        "Bundles grouped by days since they were last verified (audited or sealed); red is past {days} days.",
    ),
    "fixity.bin": ("{range} 天", "{range} days"),
    "fixity.bin_over": ("≥{days} 天", "≥{days} days"),
    "fixity.bin_tip": ("{range}：{n} 个案卷包", "{range}: {n} bundles"),
    "fixity.chart_table": ("分组数据表", "The groups as a table"),
    "fixity.col_days": ("距上次复核", "Since last verified"),
    "fixity.col_count": ("案卷包数", "Bundles"),
    "fixity.alerts": ("未处理告警", "Open alerts"),
    "fixity.no_alerts": ("没有未处理的告警。", "No open alerts."),
    "fixity.raised_at": ("告警时间", "Raised"),
    "fixity.failures": ("检测失败", "Failed audits"),
    "fixity.no_failures": ("最近一次检测均完好。", "Every last audit found the bundles intact."),
    "fixity.col_bundle": ("案卷包", "Bundle"),
    "fixity.col_case": ("案号", "Case"),
    "fixity.col_paths": ("失败的路径", "Failing paths"),
    "fixity.col_audited": ("检测时间", "Audited"),
    "fixity.note": ("处理说明", "Note"),
    "fixity.note_hint": (
        "写明已做的核查或处置（如已从备份恢复、已报告）；确认后告警关闭并记入台账。",
        "Say what was checked or done (restored from backup, reported); acknowledging closes the "
        "alert and is ledgered.",
    ),
    "fixity.note_missing": ("请填写处理说明。", "Write a note."),
    "fixity.acknowledge": ("确认告警", "Acknowledge"),
    "fixity.closed": ("该告警不存在或已被确认。", "That alert does not exist or was already acknowledged."),
    "fixity.last_audit": ("最近检测", "Last audit"),
    "fixity.never": ("尚未检测", "Not audited yet"),
    "fixity.audit_line": ("{at} · {outcome}", "{at} · {outcome}"),
    "outcome.intact": ("完好", "intact"),
}
