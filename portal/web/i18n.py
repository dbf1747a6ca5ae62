"""Languages for the pages: one message catalogue (Simplified Chinese first, English), the
choice of language (`?lang=` then the `lang` cookie), and the renderer that applies them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from portal.web.messages.disclosure import DISCLOSURE_MESSAGES
from portal.web.messages.disposition import DISPOSITION_MESSAGES
from portal.web.messages.fixity import FIXITY_MESSAGES
from portal.web.messages.public import PUBLIC_MESSAGES
from portal.web.messages.retention import RETENTION_MESSAGES

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "lang"
# China Standard Time: no daylight saving, so a fixed offset is exact.
CST = timezone(timedelta(hours=8), "CST")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

Translate = Callable[..., str]

# key → (Chinese, English). Values may hold `{name}` fields filled by `translate`.
_CATALOGUE: dict[str, tuple[str, str]] = {
    # the frame of every page
    "app.name": ("执法案卷档案馆", "Enforcement Case Archive"),
    "app.public_name": (
        "行政执法全过程记录 · 公开信息",
        "Whole-process enforcement recording · Public information",
    ),
    "app.footer": (
        "案卷一经封存不可更改；每一次查阅均记入访问台账。",
        "Sealed case files never change; every access is written to the access ledger.",
    ),
    "nav.main": ("主导航", "Main navigation"),
    "nav.catalogue": ("案卷目录", "Catalogue"),
    "nav.ledger": ("访问台账", "Access ledger"),
    "nav.logout": ("退出登录", "Sign out"),
    "nav.language": ("English", "中文"),
    "nav.language_name": ("切换到英文", "Switch to Chinese"),
    "nav.skip": ("跳到正文", "Skip to content"),
    # sign-in
    "login.title": ("登录", "Sign in"),
    "login.lead": ("请使用本单位分配的账号登录。", "Sign in with the account your office gave you."),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.or": ("或", "or"),
    "login.sso": ("使用统一身份认证登录", "Sign in with SSO"),
    "login.failed": (
        "用户名或密码不正确，或账号已被锁定、停用。连续失败 {attempts} 次将锁定 {minutes} 分钟。",
        "Wrong username or password, or the account is locked or disabled. "
        "{attempts} failures in a row lock it for {minutes} minutes.",
    ),
    "login.csrf": (
        "登录表单已过期或并非来自本页面，请重新输入后提交。",
        "The sign-in form expired or did not come from this page; enter your details again.",
    ),
    # catalogue
    "catalogue.title": ("案卷目录", "Case catalogue"),
    "catalogue.search": ("检索", "Search"),
    "catalogue.q": ("案号或案件名称", "Case number or title"),
    "catalogue.count": ("共 {n} 件", "{n} case(s)"),
    "catalogue.empty": ("没有您可查阅的匹配案卷。", "No cases you may see match."),
    "catalogue.case_no": ("案号", "Case no."),
    "catalogue.case_title": ("案件名称", "Title"),
    "catalogue.type": ("执法类别", "Enforcement"),
    "catalogue.closed": ("结案日期", "Closed"),
    "catalogue.version": ("版本", "Version"),
    "catalogue.classification": ("密级", "Classification"),
    # case page
    "bundle.version": ("第 {n} 版", "version {n}"),
    "bundle.sealed_at": ("封存时间", "Sealed at"),
    "bundle.sealed_by": ("封存人", "Sealed by"),
    "bundle.seal_digest": ("封印摘要", "Seal digest"),
    "bundle.previous": ("上一版本", "Previous version"),
    "bundle.retain_until": ("保管期限至", "Retain until"),
    "bundle.timeline": ("执法全过程时间线", "Case timeline"),
    "bundle.timeline_desc": (
        "五个阶段按时间展开：圆点为文字记录，横条为音像记录的起止时间，红色标记为中断，黄色三角为合规提示。",
        "The five stages over time: dots are text records, bars are audio-video recordings from "
        "start to end, red marks are interruptions, yellow triangles are compliance findings.",
    ),
    "bundle.timeline_table": ("时间线数据表", "Timeline as a table"),
    "bundle.records": ("案卷记录", "Records"),
    "bundle.withheld": (
        "另有 {n} 件记录因权限或密级未显示。",
        "{n} more record(s) are not shown (permissions or classification).",
    ),
    "bundle.findings": ("合规检查提示", "Compliance findings"),
    "bundle.findings_withheld": (
        "本案卷的密级高于您的涉密资格，其标题和合规检查提示不予显示。",
        "This case is graded above your clearance: its title and findings are withheld.",
    ),
    "withheld.title": ("（密级内容已隐去）", "withheld — above your clearance"),
    "bundle.no_findings": ("未发现合规问题。", "No compliance findings."),
    "bundle.open": ("查阅", "Open"),
    "bundle.not_viewable": ("无查阅权限", "Not viewable"),
    "col.stage": ("阶段", "Stage"),
    "col.record": ("记录", "Record"),
    "col.title": ("名称", "Title"),
    "col.kind": ("类型", "Kind"),
    "col.doc_type": ("文书类别", "Document type"),
    "col.time": ("时间", "Time"),
    "col.interruptions": ("中断", "Interruptions"),
    "col.findings": ("合规提示", "Findings"),
    "col.classification": ("密级", "Classification"),
    "col.action": ("操作", "Action"),
    "finding.article": ("第 {n} 条", "Art. {n}"),
    "finding.case": ("全案", "whole case"),
    # timeline picture
    "timeline.title": ("{case_no} 执法全过程时间线", "Timeline of {case_no}"),
    "timeline.desc": (
        "{records} 件记录，其中音像记录 {av} 件，中断 {gaps} 处，合规提示 {findings} 条。",
        "{records} record(s), {av} audio-video, {gaps} interruption(s), {findings} finding(s).",
    ),
    "timeline.av_detail": ("音像记录时段", "Recording periods"),
    "timeline.interruption": ("中断 {start}–{end}：{reason}", "Interrupted {start}–{end}: {reason}"),
    "timeline.not_resumed": ("未恢复", "not resumed"),
    "timeline.no_reason": ("未说明原因", "no reason given"),
    "timeline.empty": ("本案卷没有您可查阅的记录。", "No records you may see."),
    # record page
    "record.back": ("返回案卷", "Back to the case"),
    "record.download": ("下载（另行登记）", "Download (ledgered)"),
    "record.fullscreen": ("全屏（保留水印）", "Full screen (keeps the watermark)"),
    "record.watermark": ("{user} · {unit} · {time} · 仅供查阅", "{user} · {unit} · {time} · view only"),
    "record.preparing": (
        "正在为您制作带水印的查阅录像（{percent} %），完成后本页自动刷新。",
        "Preparing the watermarked footage for you ({percent} %); this page reloads when it is ready.",
    ),
    "record.unmarkable": (
        "此类文件无法加水印，仅向有权查看原件的档案人员显示；如需查阅，请联系档案室。",
        "This kind of file cannot be watermarked, so only archive staff cleared for the original "
        "see it; ask the archive.",
    ),
    "record.ledgered": (
        "本次查阅已记入访问台账；播放、拖动和下载也会逐次登记。",
        "This viewing is in the access ledger; every play, seek and download is logged too.",
    ),
    "av.device": ("执法记录仪", "Device"),
    "av.activity": ("执法活动", "Activity"),
    "av.location": ("地点", "Location"),
    "av.period": ("录制时段", "Recorded"),
    "av.stored_at": ("存储时间", "Stored"),
    "av.recorded_by": ("摄录人员（执法证号）", "Recorded by (badge)"),
    "av.continuous": ("要求无间断录制", "Continuous recording required"),
    "av.voice": ("开始时语音说明", "Spoken statement at start"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    # refusals and errors
    "refusal.title": ("无法查阅", "Access refused"),
    "refusal.lead": (
        "访问控制决策点拒绝了此次请求，拒绝已记入访问台账。",
        "The access policy refused this request; the refusal is in the access ledger.",
    ),
    "refusal.rule": ("依据规则", "Rule"),
    "refusal.detail": ("系统说明", "System detail"),
    "refusal.how": ("如何申请调取（调取登记）", "How to request a retrieval (registered retrieval)"),
    "refusal.how.1": (
        "上级部门、监察、法制、信访等部门的人员因工作需要，可提交调取登记：写明部门、法律依据、调取目的、所需案卷和记录、所需操作（查阅或下载）及期限。",
        "Staff of a superior, supervision, legal or petition department file a retrieval request "
        "naming their department, legal basis, purpose, the case and records, the actions "
        "(view or download) and the period.",
    ),
    "refusal.how.2": (
        "档案负责人审核后批准或说明理由拒绝；任何人不得审批本人的申请。",
        "The archive manager approves it or refuses with reasons; nobody approves their own request.",
    ),
    "refusal.how.3": (
        "批准后在授权期限内通过本门户查阅；每次打开、播放和下载均记入访问台账。",
        "Once approved, view the records here within the grant's period; "
        "every open, play and download is ledgered.",
    ),
    "refusal.how.public": (
        "行政相对人和利害关系人请通过公众门户依申请公开。",
        "Parties and interested parties apply through the public portal (disclosure on request).",
    ),
    "refusal.three_roles": (
        "三员（系统管理员、安全保密管理员、安全审计员）的权限不含案卷内容，调取登记也不能改变这一点。",
        "The three administrator roles never read case content; a retrieval request cannot change that.",
    ),
    "rule.three-role-separation": (
        "三员分立：系统管理员、安全保密管理员、安全审计员分别行使管理、保密和审计职权，一律不得查阅案卷内容。",
        "Three-role separation: the system administrator, security administrator and security "
        "auditor hold separate powers and never read case content.",
    ),
    "rule.role": ("您的角色（{role}）无权执行此操作。", "Your role ({role}) may not do this."),
    "rule.clearance": (
        "该记录涉及国家秘密，您的涉密资格低于其密级。",
        "The record is a state secret graded above your clearance.",
    ),
    "rule.grant": (
        "监督调取人员只能在经批准、未过期、未撤销并涵盖该记录和操作的调取授权内查阅。",
        "Supervisors act only inside an approved, unexpired, unrevoked grant "
        "that covers the record and action.",
    ),
    "rule.csrf": (
        "表单校验（CSRF）未通过，请刷新页面后重试。",
        "The form's CSRF check failed; reload the page and try again.",
    ),
    "rule.other": ("访问被拒绝。", "Access refused."),
    "rule.name.three-role-separation": ("三员分立", "three-role separation"),
    "rule.name.role": ("角色权限", "role permissions"),
    "rule.name.clearance": ("涉密资格", "clearance"),
    "rule.name.grant": ("调取授权", "retrieval grant"),
    "rule.name.csrf": ("表单校验", "form check"),
    "error.title.400": ("请求有误", "Bad request"),
    "error.title.401": ("需要登录", "Sign-in needed"),
    "error.title.403": ("无法查阅", "Access refused"),
    "error.title.404": ("未找到", "Not found"),
    "error.title.409": ("案卷已损坏", "Case file damaged"),
    "error.title.413": ("提交的内容过大", "Request too large"),
    "error.title.422": ("输入有误", "Invalid input"),
    "error.title.500": ("系统出错", "Internal error"),
    "error.title.503": ("服务暂时不可用", "Temporarily unavailable"),
    "error.title.other": ("出错了", "Something went wrong"),
    "error.404": (
        "没有这个案卷或记录，或者您无权知道它的存在。",
        "No such case file or record, or you may not know of it.",
    ),
    "error.409": (
        "存储中缺少这份案卷的文件。请档案管理员运行下面的校验命令，查明并修复损坏的部分。",
        "A file of this case is missing from the store. Ask an archivist to run the check below, "
        "which names what is damaged.",
    ),
    "error.413": (
        "提交的内容超过了允许的大小，未被接收。请缩小后重新提交。",
        "What was sent is larger than allowed and was not accepted. Make it smaller and send it again.",
    ),
    "error.422": ("请检查地址或表单中的内容。", "Check the address or the form."),
    "error.500": (
        "系统内部出错，已记入日志；您的操作没有被部分保存。",
        "Something failed inside the system; it has been logged. Nothing was half-saved.",
    ),
    "error.503": (
        "数据库或存储服务暂时无法访问，请稍后再试；您的操作没有被部分保存。",
        "The database or storage is unavailable for a moment; please try again shortly. "
        "Nothing was half-saved.",
    ),
    "error.back": ("返回首页", "Back to the start page"),
    # ledger
    "ledger.title": ("访问台账", "Access ledger"),
    "ledger.chain_ok": (
        "哈希链完整：共 {n} 条记录，逐条校验通过。",
        "Hash chain intact: {n} entries, each one verified.",
    ),
    "ledger.chain_bad": (
        "哈希链被破坏：第 {seq} 条起校验失败（{reason}）。请立即报告安全保密管理员。",
        "Hash chain broken from entry {seq} ({reason}). Report it to the security administrator now.",
    ),
    "ledger.activity": ("近 30 天访问情况", "Activity in the last 30 days"),
    "ledger.activity_desc": (
        "近 30 天共 {allowed} 次允许或成功、{refused} 次拒绝或失败。",
        "In the last 30 days: {allowed} allowed or succeeded, {refused} denied or failed.",
    ),
    "ledger.allowed": ("允许/成功", "allowed/ok"),
    "ledger.refused": ("拒绝/失败", "denied/failed"),
    "ledger.day": (
        "{day}：允许/成功 {allowed}，拒绝/失败 {refused}",
        "{day}: {allowed} allowed/ok, {refused} denied/failed",
    ),
    "ledger.search": ("检索", "Search"),
    "ledger.reset": ("清除条件", "Clear"),
    "ledger.any": ("全部", "any"),
    "ledger.actor": ("操作人", "Actor"),
    "ledger.action": ("操作", "Action"),
    "ledger.outcome": ("结果", "Outcome"),
    "ledger.case_no": ("案号", "Case no."),
    "ledger.since": ("起始日期", "From (date)"),
    "ledger.until": ("截止日期（含当日）", "To (date, inclusive)"),
    "ledger.bad_date": ("日期格式应为 YYYY-MM-DD：{value}", "A date must read YYYY-MM-DD: {value}"),
    "ledger.seq": ("序号", "Seq."),
    "ledger.at": ("时间", "Time"),
    "ledger.record": ("记录", "Record"),
    "ledger.source": ("来源地址", "Source"),
    "ledger.empty": ("没有符合条件的记录。", "No entries match."),
    "ledger.older": ("更早的记录", "Older entries"),
    "ledger.entry": ("台账记录 #{seq}", "Ledger entry #{seq}"),
    "ledger.bundle": ("案卷包", "Bundle"),
    "ledger.detail": ("详情", "Detail"),
    "ledger.prev_hash": ("前一条哈希", "Previous hash"),
    "ledger.entry_hash": ("本条哈希", "Entry hash"),
    "ledger.back": ("返回台账", "Back to the ledger"),
    "ledger.chain": ("哈希链状态", "State of the hash chain"),
    "ledger.checkpoint": ("最新签名检查点", "Latest signed checkpoint"),
    "ledger.tree_size": ("覆盖记录数", "Entries covered"),
    "ledger.signed_at": ("签发时间", "Signed at"),
    "ledger.root_hash": ("根哈希（前 16 位）", "Root hash (first 16)"),
    "ledger.kid": ("签名密钥", "Key id"),
    "ledger.head": ("台账现有记录数", "Entries in the ledger now"),
    "ledger.no_checkpoint": ("尚未签发检查点。", "No checkpoint has been signed yet."),
    "ledger.checkpoint_note": (
        "以上为存储的检查点；其签名和根哈希在完整校验时重新核对。",
        "As stored; its signature and root hash are re-checked by a full verification.",
    ),
    "ledger.verification": ("最近一次完整校验", "Last full verification"),
    "ledger.verified_by": (
        "{at}，由 {actor} 发起，用时 {duration}。",
        "{at}, run by {actor}, took {duration}.",
    ),
    "ledger.never_verified": (
        "台账中尚无完整校验的记录。打开本页不会校验哈希链，需要时请点击下方按钮。",
        "No full verification is on record. Opening this page does not verify the chain; "
        "use the button below when you need to.",
    ),
    "ledger.verify_unfinished": (
        "最近一次完整校验未能完成（{error}），请重新校验。",
        "The last full verification did not finish ({error}); run it again.",
    ),
    "ledger.checkpoints_ok": (
        "{n} 个签名检查点核对无误。",
        "{n} signed checkpoints hold.",
    ),
    "ledger.checkpoint_bad": (
        "签名检查点不成立：{reason}。请立即报告安全保密管理员。",
        "A signed checkpoint does not hold: {reason}. Report it to the security administrator now.",
    ),
    "ledger.verify_now": ("立即校验整条哈希链", "Verify the whole chain now"),
    "ledger.verify_hint": (
        "逐条重算全部记录的哈希并核对每个签名检查点，记录越多耗时越长；本次校验将记入台账。",
        "Re-hashes every entry and checks every signed checkpoint, taking longer as the ledger grows; "
        "the verification is itself ledgered.",
    ),
    "ledger.duration_ms": ("{ms} 毫秒", "{ms} ms"),
    "ledger.duration_s": ("{s} 秒", "{s} s"),
    "outcome.allowed": ("允许", "allowed"),
    "outcome.denied": ("拒绝", "denied"),
    "outcome.ok": ("成功", "ok"),
    "outcome.failed": ("失败", "failed"),
    "outcome.damaged": ("文件缺失", "damaged"),
    "outcome.unavailable": ("存储不可用", "unavailable"),
    # public portal
    "public.title": ("音像记录的执法活动清单", "Enforcement activities recorded on camera"),
    "public.lead": (
        "依照《深圳市民防委员会办公室行政执法全过程记录制度（试行）》第十二条，下列容易引发争议的执法活动全程音像记录；直接涉及重大财产权益的现场执法活动，全过程无间断音像记录。",
        "Under article 12 of the office's whole-process recording rules, the following "
        "dispute-prone activities are recorded on camera; on-site enforcement that directly "
        "affects major property interests is recorded without interruption.",
    ),
    "public.activities": ("音像记录范围", "What is recorded"),
    "public.request": (
        "如何申请查阅执法记录（依申请公开）",
        "How to request records (disclosure on request)",
    ),
    "public.request.1": (
        "行政相对人或利害关系人可依照《中华人民共和国政府信息公开条例》提出申请，写明身份、与案件的关系、所需信息的描述及获取方式（在线或纸质）。",
        "Parties and interested parties apply under the Regulations on Open Government "
        "Information, stating who they are, their relation to the case, what they ask for, "
        "and how they want it (online or on paper).",
    ),
    "public.request.2": (
        "申请内容不明确的，我办在 7 个工作日内一次性告知补正；"
        "自收到申请（或补正）之日起 20 个工作日内答复，经批准可延长一次，最长 20 个工作日。"
        "征求第三方意见的时间不计入期限。",
        "If the request is unclear we ask once, within 7 working days, for a correction; we "
        "answer within 20 working days of receipt (or correction), extendable once by up to 20 "
        "with approval. Time spent consulting third parties is not counted.",
    ),
    "public.request.3": (
        "涉及国家秘密的不予公开；涉及商业秘密、个人隐私的，经第三方同意或公共利益需要方可公开；可以区分处理的，部分公开。",
        "State secrets are never released; commercial secrets and personal privacy only with the "
        "third party's consent or in the public interest; separable parts are released.",
    ),
    "public.request.4": (
        "批准公开的材料在限定期限内通过本门户提供。上级部门及监察、法制、信访等部门另按调取登记制度办理。",
        "Released material is offered here for a limited time. Superior, supervision, legal and "
        "petition departments use registered retrieval instead.",
    ),
    "public.note": ("本页面不含任何案卷内容。", "This page holds no case content."),
}
for _kind, _pairs in {
    "classification": {
        "none": ("无", "None"),
        "personal_privacy": ("个人隐私", "Personal privacy"),
        "commercial_secret": ("商业秘密", "Commercial secret"),
        "state_secret": ("国家秘密", "State secret"),
    },
    "grade": {
        "confidential": ("秘密", "Confidential"),
        "secret": ("机密", "Secret"),
        "top_secret": ("绝密", "Top secret"),
    },
    "stage": {
        "initiation": ("立案", "Initiation"),
        "investigation": ("调查取证", "Investigation"),
        "decision": ("审查决定", "Decision"),
        "service": ("送达执行", "Service & execution"),
        "archiving": ("归档", "Archiving"),
    },
    "kind": {"text": ("文字记录", "Text"), "av": ("音像记录", "Audio-video")},
    "enforcement": {
        "penalty": ("行政处罚", "Penalty"),
        "license": ("行政许可", "Licence"),
        "coercion": ("行政强制", "Coercion"),
        "levy": ("行政征收", "Levy"),
        "requisition": ("行政征用", "Requisition"),
        "payment": ("行政给付", "Payment"),
        "confirmation": ("行政确认", "Confirmation"),
        "registration": ("行政登记", "Registration"),
        "adjudication": ("行政裁决", "Adjudication"),
        "inspection": ("行政检查", "Inspection"),
    },
    "activity": {
        "on_site_inspection": ("现场检查", "On-site inspection"),
        "random_inspection": ("随机抽查", "Random inspection"),
        "evidence_collection": ("调查取证", "Evidence collection"),
        "evidence_preservation": ("证据保全", "Evidence preservation"),
        "hearing": ("听证", "Hearing"),
        "coercion": ("行政强制", "Coercive measures"),
        "service": ("送达", "Service of documents"),
        "other": ("其他", "Other"),
    },
    "doc_type": {
        "filing_approval": ("立案审批表", "Filing approval"),
        "case_source": ("案件来源登记", "Case source"),
        "application": ("申请书", "Application"),
        "correction_notice": ("补正通知书", "Correction notice"),
        "acceptance_notice": ("受理通知书", "Acceptance notice"),
        "inquiry_transcript": ("询问笔录", "Inquiry transcript"),
        "inspection_record": ("现场检查（勘验）笔录", "Inspection record"),
        "expert_opinion": ("鉴定意见", "Expert opinion"),
        "evidence_collection": ("取证记录", "Evidence collection"),
        "sampling_record": ("抽样取证记录", "Sampling record"),
        "test_report": ("检测报告", "Test report"),
        "preservation_record": ("证据保全记录", "Preservation record"),
        "coercive_measure": ("行政强制措施记录", "Coercive measure"),
        "rights_notice": ("权利告知书", "Rights notice"),
        "hearing_record": ("听证笔录", "Hearing record"),
        "expert_review": ("专家论证记录", "Expert review"),
        "review_record": ("审核意见", "Review record"),
        "decision": ("决定书", "Decision"),
        "service_receipt": ("送达回证", "Service receipt"),
        "performance_record": ("履行记录", "Performance record"),
        "enforcement_record": ("强制执行记录", "Enforcement record"),
        "closing_report": ("结案报告", "Closing report"),
        "other": ("其他", "Other"),
        "av_footage": ("音像记录", "Audio-video footage"),
    },
    "role": {
        "archivist": ("档案管理员", "Archivist"),
        "archive_manager": ("档案负责人", "Archive manager"),
        "supervisor": ("监督调取人员", "Supervisor"),
        "disclosure_officer": ("信息公开经办人", "Disclosure officer"),
        "security_auditor": ("安全审计员", "Security auditor"),
        "security_admin": ("安全保密管理员", "Security administrator"),
        "sysadmin": ("系统管理员", "System administrator"),
        "applicant": ("申请人", "Applicant"),
    },
    "department": {
        "superior": ("上级部门", "Superior department"),
        "supervision": ("监察", "Supervision"),
        "legal": ("法制", "Legal affairs"),
        "petition": ("信访", "Petitions"),
    },
}.items():
    _CATALOGUE.update({f"{_kind}.{value}": pair for value, pair in _pairs.items()})

# registered retrieval (调取登记): pages, navigation, notices, watermarked copies
_CATALOGUE.update(
    {
        "nav.retrievals": ("我的调取", "My retrievals"),
        "nav.pending": ("待审批", "To decide"),
        "nav.register": ("调取登记簿", "Retrieval register"),
        "nav.notifications": ("通知", "Notices"),
        "nav.notifications_n": ("通知（{n} 条）", "Notices ({n})"),
        "retrieval.kicker": ("调取登记", "Registered retrieval"),
        "retrieval.request_this": ("申请调取此记录", "Request a retrieval for this record"),
        "retrieval.new.title": ("提交调取申请", "File a retrieval request"),
        "retrieval.new.lead": (
            "写明案号、所需记录、调取目的、法律依据、方式和期限；档案负责人审批后方可查阅。",
            "Name the case, the records, the purpose, the legal basis, the actions and the period; "
            "the archive manager decides before you may view anything.",
        ),
        "retrieval.department": ("申请部门", "Department"),
        "retrieval.department_hint": ("取自账号信息，不可修改。", "From your account; not editable."),
        "retrieval.no_department": ("（账号未登记部门）", "(no department on the account)"),
        "retrieval.case_no": ("案号", "Case number"),
        "retrieval.load_records": ("列出记录", "List records"),
        "retrieval.records": ("调取记录", "Records"),
        "retrieval.records_hint": (
            "勾选所需记录；不勾选即调取全案。",
            "Tick the records you need; none ticked means the whole case.",
        ),
        "retrieval.records_none": ("本案没有您可选择的记录。", "This case has no records you may choose."),
        "retrieval.records_first": (
            "先填写案号并点击“列出记录”。",
            "Enter the case number and press “List records” first.",
        ),
        "retrieval.purpose": ("调取事由", "Purpose"),
        "retrieval.legal_basis": ("法律依据", "Legal basis"),
        "retrieval.actions": ("调取方式", "Actions"),
        "retrieval.action.view": ("查阅", "View"),
        "retrieval.action.download": ("下载水印副本", "Download a watermarked copy"),
        "retrieval.days": ("期限（天，1–90）", "Period (days, 1–90)"),
        "retrieval.days_n": ("{n} 天", "{n} days"),
        "retrieval.submit": ("提交申请", "File the request"),
        "retrieval.err.summary": (
            "申请未提交，请按提示修改。",
            "Not filed: please correct the fields marked.",
        ),
        "retrieval.err.required": ("此项必填。", "Required."),
        "retrieval.err.days": ("请填写 1 至 {max} 之间的天数。", "Give a period of 1 to {max} days."),
        "retrieval.err.reason": ("不予批准或撤销授权须写明理由。", "A refusal or revocation needs a reason."),
        "retrieval.err.decision": ("请选择批准或不予批准。", "Choose approve or refuse."),
        "retrieval.err.date": (
            "无法识别的日期：{value}（格式 YYYY-MM-DD）",
            "Not a date: {value} (YYYY-MM-DD)",
        ),
        "retrieval.err.status": ("未知的状态。", "Unknown status."),
        "retrieval.mine.title": ("我的调取申请", "My retrieval requests"),
        "retrieval.mine.empty": ("您尚未提交调取申请。", "You have not filed any retrieval request."),
        "retrieval.pending.title": ("待审批的调取申请", "Retrieval requests to decide"),
        "retrieval.pending.empty": ("没有待审批的申请。", "No request is waiting for a decision."),
        "retrieval.detail.title": ("调取申请 #{id}", "Retrieval request #{id}"),
        "retrieval.id": ("编号", "No."),
        "retrieval.filed_at": ("登记时间", "Filed"),
        "retrieval.requester": ("申请人", "Requester"),
        "retrieval.scope": ("调取范围", "Scope"),
        "retrieval.state": ("状态", "Status"),
        "retrieval.state.pending": ("待审批", "pending"),
        "retrieval.state.approved": ("已批准", "approved"),
        "retrieval.state.active": ("已批准（授权有效）", "approved (grant active)"),
        "retrieval.state.expired": ("已批准（授权到期）", "approved (grant expired)"),
        "retrieval.state.refused": ("不予批准", "refused"),
        "retrieval.state.revoked": ("已撤销授权", "grant revoked"),
        "retrieval.decision": ("审批结果", "Decision"),
        "retrieval.decider": ("审批人", "Decided by"),
        "retrieval.decided_at": ("审批时间", "Decided"),
        "retrieval.reason": ("审批意见", "Reason"),
        "retrieval.reason_hint": (
            "批准时可写明限制；不予批准时必须写明理由。",
            "When approving you may state limits; a refusal must give its reason.",
        ),
        "retrieval.period": ("授权期间", "Grant period"),
        "retrieval.revoked": ("撤销", "Revoked"),
        "retrieval.accesses": ("调阅记录", "Accesses"),
        "retrieval.accesses_n": ("调阅 {n} 次", "{n} accesses"),
        "retrieval.no_accesses": ("无", "none"),
        "retrieval.fingerprint": ("指纹", "fingerprint"),
        "retrieval.decide": ("审批", "Decide"),
        "retrieval.approve": ("批准", "Approve"),
        "retrieval.refuse": ("不予批准", "Refuse"),
        "retrieval.own_note": (
            "这是您本人提交的申请：任何人不得审批本人的申请（不得自行审批），请由其他档案负责人审批。",
            "This is your own request: nobody decides their own request; another archive manager must.",
        ),
        "retrieval.revoke": ("撤销授权", "Revoke the grant"),
        "retrieval.revoke_reason": ("撤销理由", "Reason for revoking"),
        "retrieval.register.title": ("调取登记簿", "Retrieval register"),
        "retrieval.register.count": ("共 {n} 条", "{n} requests"),
        "retrieval.register.empty": ("没有符合条件的登记。", "No request matches."),
        "retrieval.from": ("登记日期自", "Filed from"),
        "retrieval.to": ("登记日期至", "Filed to"),
        "retrieval.csv": ("CSV 导出", "CSV export"),
        "retrieval.print": ("打印版", "Printable view"),
        "retrieval.print.meta": ("打印时间 {at} · 打印人 {by}", "Printed {at} by {by}"),
        "retrieval.print.filters": ("筛选条件", "Filters"),
        "retrieval.print.hint": (
            "请使用浏览器的打印功能（A4 横向）。",
            "Use the browser's print command (A4 landscape).",
        ),
        "notice.title": ("通知", "Notices"),
        "notice.empty": ("暂无通知。", "No notices."),
        "notice.kind.pending": ("待审批", "To decide"),
        "notice.kind.decided": ("审批结果", "Decision"),
        "notice.kind.expiring": ("即将到期", "Ending soon"),
        "notice.pending": (
            "调取申请 #{id}（{case_no}）待审批",
            "Retrieval request #{id} ({case_no}) awaits a decision",
        ),
        "notice.decided": (
            "调取申请 #{id}（{case_no}）已有审批结果",
            "Retrieval request #{id} ({case_no}) was decided",
        ),
        "notice.expiring": (
            "调取授权 #{grant}（{case_no}）将在 24 小时内到期",
            "Grant #{grant} ({case_no}) ends within 24 hours",
        ),
        "copy.title": ("下载水印副本", "Download a watermarked copy"),
        "copy.hint": (
            "副本带有可见水印和隐藏指纹，标明下载人和时间；每次下载均记入访问台账。",
            "The copy carries a visible watermark and a hidden fingerprint naming you and the time; "
            "every download is ledgered.",
        ),
        "copy.start": ("制作水印副本", "Prepare a watermarked copy"),
        "copy.preparing": ("正在制作副本…", "Preparing the copy…"),
        "copy.ready": ("副本已就绪，只能下载一次。", "The copy is ready; it can be downloaded once."),
        "copy.failed": ("副本制作失败", "The copy failed"),
        "copy.link": ("下载副本", "Download the copy"),
    }
)

# Each workflow with pages of its own keeps its catalogue beside them.
_CATALOGUE.update(PUBLIC_MESSAGES)
_CATALOGUE.update(DISCLOSURE_MESSAGES)
_CATALOGUE.update(FIXITY_MESSAGES)
_CATALOGUE.update(RETENTION_MESSAGES)
_CATALOGUE.update(DISPOSITION_MESSAGES)

MESSAGES: dict[str, dict[str, str]] = {
    lang: {key: pair[index] for key, pair in _CATALOGUE.items()} for index, lang in enumerate(LANGS)
}


def translate(lang: str, key: str, /, **fields: object) -> str:
    """The message for `key` in `lang`, with `{fields}` filled; the key itself if unknown."""
    text = MESSAGES.get(lang, MESSAGES[DEFAULT_LANG]).get(key)
    if text is None:
        return key
    return text.format(**fields) if fields else text


def label(lang: str, kind: str, value: str | None) -> str:
    """An enumeration value's label (e.g. kind `stage`), or the value itself if unknown."""
    if value is None:
        return ""
    text = translate(lang, f"{kind}.{value}")
    return value if text == f"{kind}.{value}" else text


def choose_lang(request: Request) -> tuple[str, bool]:
    """The page language and whether `?lang=` chose it (then the cookie is to be set)."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked, True
    kept = request.cookies.get(LANG_COOKIE)
    return (kept if kept in LANGS else DEFAULT_LANG), False


def local_time(value: datetime | str | None, *, seconds: bool = False) -> str:
    """A timestamp as China Standard Time text, e.g. `2026-03-04 09:00`."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def local_date(value: date | datetime | str | None) -> str:
    """A date as `YYYY-MM-DD` (times are first moved to China Standard Time)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(CST)
    return value.strftime("%Y-%m-%d")


def _environment() -> Environment:
    """The Jinja environment: autoescaped, strict about undefined names, with time filters."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html", "svg")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = local_time
    env.filters["day"] = local_date
    env.filters["pretty_json"] = lambda value: json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    return env


ENVIRONMENT = _environment()


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
        "t": partial(translate, lang),
        "label": partial(label, lang),
        "static": partial(static_url, request),
        "switch_url": switch_url(request, other),
        **context,
    }
    html = ENVIRONMENT.get_template(template).render(values)
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
