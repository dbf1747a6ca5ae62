"""The internal disclosure pages' messages (依申请公开办理): key → (Simplified Chinese, English).

The articles quoted in reply letters are the Regulations on Open Government Information (2019);
the English is a working translation, the Chinese text is the one that binds.
"""

from __future__ import annotations

_ART14 = (
    "第十四条　依法确定为国家秘密的政府信息，法律、行政法规禁止公开的政府信息，以及公开后可能危及国家安全、"
    "公共安全、经济安全、社会稳定的政府信息，不予公开。",
    "Article 14: Government information lawfully classified as a state secret, information whose "
    "disclosure laws and administrative regulations prohibit, and information whose disclosure could "
    "endanger national, public or economic security or social stability, is not disclosed.",
)
_ART15 = (
    "第十五条　涉及商业秘密、个人隐私等公开会对第三方合法权益造成损害的政府信息，行政机关不得公开。"
    "但是，第三方同意公开或者行政机关认为不公开会对公共利益造成重大影响的，予以公开。",
    "Article 15: Government information involving commercial secrets, personal privacy and the like, "
    "whose disclosure would harm a third party's lawful rights and interests, shall not be disclosed. "
    "It is disclosed, however, where the third party agrees or where the office considers that "
    "withholding it would seriously affect the public interest.",
)
_ART16 = (
    "第十六条　行政机关的内部事务信息，包括人事管理、后勤管理、内部工作流程等方面的信息，可以不予公开。"
    "行政机关在履行行政管理职能过程中形成的讨论记录、过程稿、磋商信函、请示报告等过程性信息以及行政执法案卷信息，"
    "可以不予公开。法律、法规、规章规定上述信息应当公开的，从其规定。",
    "Article 16: Information on an office's internal affairs (personnel, logistics, internal "
    "procedures) may be withheld. Process information formed while performing administrative "
    "functions (discussion records, drafts, consultation letters, requests for instructions) and "
    "information in administrative law-enforcement case files may be withheld. Where laws, "
    "regulations or rules require such information to be disclosed, they apply.",
)

DISCLOSURE_MESSAGES: dict[str, tuple[str, str]] = {
    # navigation, notices, refusal rules
    "nav.disclosures": ("公开申请", "Disclosure requests"),
    "nav.calendar": ("节假日", "Holidays"),
    "notice.kind.disclosure_due": ("答复期限", "Reply due"),
    "notice.kind.disclosure_extension": ("延期审批", "Extension to decide"),
    "notice.disclosure_due": (
        "公开申请 #{id} 的答复期限临近或已超期",
        "Disclosure request #{id}: the reply is due within 5 working days, or overdue",
    ),
    "notice.disclosure_extension": (
        "公开申请 #{id} 请求延期，待审批",
        "Disclosure request #{id} asks for an extension; it awaits your decision",
    ),
    "rule.assigned-officer": (
        "只有被分配办理该申请的信息公开经办人才能办理；请先领取或请档案负责人分办。",
        "Only the disclosure officer the request is assigned to handles it; take it first, "
        "or ask the archive manager to assign it.",
    ),
    "rule.name.assigned-officer": ("承办人", "assigned officer"),
    "rule.state-secret": (
        "国家秘密，不得公开（第十四条）：涉及国家秘密的记录一律不向申请人公开。",
        "A state secret is never disclosed (art. 14): state-secret records are never released to applicants.",
    ),
    "rule.name.state-secret": ("国家秘密不公开", "state secrets withheld"),
    "rule.own-request": (
        "任何人不得审批本人提出的申请（不得自行审批）。",
        "Nobody decides their own request.",
    ),
    "rule.name.own-request": ("不得自行审批", "no self-approval"),
    # shared words
    "handling.kicker": ("依申请公开办理", "Disclosure on request"),
    "handling.tracking_code": ("申请编号", "Tracking code"),
    "handling.applicant": ("申请人", "Applicant"),
    "handling.applicant.name": ("姓名/名称", "Name"),
    "handling.applicant.id": ("身份证件（脱敏）", "Identity document (masked)"),
    "handling.applicant.phone": ("联系电话", "Phone"),
    "handling.applicant.email": ("电子邮箱", "Email"),
    "handling.applicant.address": ("通信地址", "Address"),
    "handling.applicant.account": ("公众门户账号", "Public portal account"),
    "handling.id_type.resident_id": ("居民身份证", "Resident ID card"),
    "handling.id_type.passport": ("护照", "Passport"),
    "handling.id_type.hk_macao_permit": ("港澳居民来往内地通行证", "Hong Kong/Macao travel permit"),
    "handling.id_type.taiwan_permit": ("台湾居民来往大陆通行证", "Taiwan travel permit"),
    "handling.id_type.foreign_permanent": ("外国人永久居留身份证", "Foreign permanent resident ID"),
    "handling.id_type.organization_code": ("统一社会信用代码", "Unified social credit code"),
    "handling.relation": ("与案件的关系", "Relation to the case"),
    "handling.relation.party": ("行政相对人", "Party"),
    "handling.relation.interested_party": ("利害关系人", "Interested party"),
    "handling.request": ("申请内容", "The request"),
    "handling.case_no": ("案号", "Case number"),
    "handling.no_case": ("（未指明案件）", "(no case named)"),
    "handling.delivery": ("获取方式", "Delivery"),
    "handling.delivery.online": ("网上查阅", "Online"),
    "handling.delivery.paper": ("纸质邮寄", "Paper, by post"),
    "handling.filed_at": ("提交时间", "Filed"),
    "handling.received_on": ("收到申请", "Received"),
    "handling.due_on": ("答复期限", "Reply due"),
    "handling.left": ("剩余工作日", "Working days left"),
    "handling.left.n": ("剩 {n} 个工作日", "{n} working day(s) left"),
    "handling.left.today": ("今日到期", "due today"),
    "handling.left.overdue": ("已超期 {n} 个工作日", "overdue by {n} working day(s)"),
    "handling.left.none": ("计时暂停（待补正）", "clock stopped (awaiting correction)"),
    "handling.no_due": ("暂停计算", "clock stopped"),
    "handling.assignee": ("承办人", "Officer"),
    "handling.unassigned": ("未分办", "unassigned"),
    "handling.status": ("状态", "Status"),
    "handling.status.received": ("办理中", "in progress"),
    "handling.status.awaiting_correction": ("待补正", "awaiting correction"),
    "handling.status.in_consultation": ("征求第三方意见", "third party consulted"),
    "handling.status.decided": ("已答复", "answered"),
    "handling.status.withdrawn": ("已撤回", "withdrawn"),
    "handling.overdue": ("已超期", "overdue"),
    "handling.clock_from": ("期限起算日", "Clock runs from"),
    "handling.paused": ("不计入期限", "Not counted"),
    "handling.days_n": ("{n} 个工作日", "{n} working days"),
    "handling.bytes": ("{n} 字节", "{n} bytes"),
    "handling.choose": ("请选择", "Choose"),
    "handling.redacted": ("删除处理件", "redacted"),
    "handling.estimated": (
        "{year} 年的国务院节假日安排尚未录入，期限按周一至周五计算，仅为估算。",
        "The official holiday schedule for {year} is not entered; the deadline is computed "
        "Monday–Friday and is only an estimate.",
    ),
    "handling.estimated_short": (
        "估算：{years} 年节假日安排未录入，按周一至周五计算",
        "estimate: no holiday schedule for {years}; counted Monday–Friday",
    ),
    "handling.estimated_word": ("估算", "estimate"),
    "handling.estimated_link": ("录入节假日安排", "Enter the holiday schedule"),
    "handling.estimated_ask": (
        "请系统管理员在“节假日”页面录入该年度的节假日安排。",
        "Ask the system administrator to enter that year's schedule on the Holidays page.",
    ),
    # the queue
    "handling.queue.title": ("政府信息公开申请", "Disclosure requests"),
    "handling.queue.show": ("显示范围", "Show"),
    "handling.queue.show.open": ("办理中", "Open"),
    "handling.queue.show.closed": ("已办结", "Closed"),
    "handling.queue.show.all": ("全部", "All"),
    "handling.queue.count": ("共 {n} 件", "{n} request(s)"),
    "handling.queue.caption": ("公开申请及其答复期限", "Disclosure requests and their deadlines"),
    "handling.queue.empty.open": ("没有办理中的申请。", "No request is open."),
    "handling.queue.empty.closed": ("没有已办结的申请。", "No request is closed."),
    "handling.queue.empty.all": ("还没有公开申请。", "There are no disclosure requests yet."),
    "handling.extension.waiting": ("延期待审批", "extension awaits approval"),
    # the deadline picture
    "handling.dash.title": ("答复期限看板", "Reply deadlines"),
    "handling.dash.open": ("期限看板", "Deadline board"),
    "handling.dash.caption": (
        "每件办理中的申请一条横条：自期限起算日至答复期限；颜色表示剩余工作日，斜线部分为征求第三方意见（不计入期限），"
        "虚线框为待补正（计时暂停），灰色列为非工作日。",
        "One bar per open request, from the day its clock started to the day the reply is due; the "
        "colour shows the working days left, hatching is third-party consultation (not counted), a "
        "dashed outline waits for a correction (clock stopped), grey columns are non-working days.",
    ),
    "handling.dash.lead": (
        "今天是 {today}。下表与图中数据相同。",
        "Today is {today}. The table below holds the same data as the picture.",
    ),
    "handling.dash.table": ("期限数据表", "Deadlines as a table"),
    "handling.dash.empty": ("没有办理中的申请。", "No request is open."),
    "handling.dash.desc": (
        "{today}：办理中 {open} 件，其中已到期或超期 {overdue} 件，剩 1–4 个工作日 {urgent} 件，"
        "剩 5–9 个工作日 {soon} 件，剩 10 个工作日以上 {ample} 件，待补正 {waiting} 件。"
        "时间轴 {first} 至 {last}。",
        "{today}: {open} open request(s); {overdue} due today or overdue, {urgent} with 1–4 working "
        "days left, {soon} with 5–9, {ample} with 10 or more, {waiting} awaiting correction. "
        "Axis from {first} to {last}.",
    ),
    "handling.dash.month": ("{year}年{month}月", "{year}-{month:02d}"),
    "handling.dash.today": ("今天 {day}", "today {day}"),
    "handling.dash.received": ("收到申请 {day}", "received {day}"),
    "handling.dash.restarted": ("收到补正，自 {day} 重新起算", "corrected; clock restarted {day}"),
    "handling.dash.paused": (
        "征求第三方意见 {first} 至 {last}，不计入期限",
        "third party consulted {first} to {last}, not counted",
    ),
    "handling.dash.extended": ("已批准延期 {days} 个工作日", "extension of {days} working days approved"),
    "handling.dash.waiting": ("待补正，补正期限 {day}", "awaiting correction until {day}"),
    "handling.dash.waiting_short": ("待补正", "awaiting correction"),
    "handling.dash.due": ("答复期限 {day}", "reply due {day}"),
    "handling.band.ample": ("≥10 个工作日", "≥10 working days"),
    "handling.band.soon": ("5–9 个工作日", "5–9 working days"),
    "handling.band.urgent": ("1–4 个工作日", "1–4 working days"),
    "handling.band.overdue": ("今日到期或已超期", "due today or overdue"),
    "handling.band.paused": ("征求意见（不计入）", "consultation (not counted)"),
    "handling.band.waiting": ("待补正（暂停）", "awaiting correction"),
    "handling.band.off": ("非工作日", "non-working day"),
    "handling.band.today": ("今天", "today"),
    # one request
    "handling.detail.title": ("公开申请 {code}", "Disclosure request {code}"),
    "handling.deadlines": ("期限", "Deadlines"),
    "handling.received_hint": (
        "收到申请当日不计入，次日起算（第三十三条）。",
        "The day of receipt is not counted (art. 33).",
    ),
    "handling.correction_notice_by": ("补正告知截止", "Correction notice by"),
    "handling.correction_notice_hint": (
        "收到申请之日起 7 个工作日内一次性告知补正（第三十条）。",
        "One correction notice within 7 working days of receipt (art. 30).",
    ),
    "handling.correction_asked_on": ("已告知补正", "Correction asked"),
    "handling.correct_by": ("补正期限", "Correct by"),
    "handling.correct_by_hint": (
        "无正当理由逾期不补正的，视为放弃申请。",
        "Without a correction by then, the request is deemed withdrawn.",
    ),
    "handling.corrected_on": ("收到补正", "Correction received"),
    "handling.clock_from_hint": (
        "答复期限自收到申请（或收到补正）之日起算。",
        "The reply period runs from receipt (or from the correction).",
    ),
    "handling.consultation": ("征求第三方意见", "Third-party consultation"),
    "handling.consultation.until": ("答复期限 {day}", "answer due {day}"),
    "handling.consultation.ended": ("{day} 结束", "ended {day}"),
    "handling.extension": ("延期答复", "Extension"),
    "handling.extension.requested": ("待审批", "awaiting approval"),
    "handling.extension.approved": ("已批准", "approved"),
    "handling.extension.refused": ("不予批准", "refused"),
    "handling.extension.requested_by": ("申请人：{user}", "asked by {user}"),
    "handling.decided_on": ("答复日期", "Answered on"),
    "handling.reply": ("答复", "Reply"),
    "handling.decision": ("答复类型", "Reply type"),
    "handling.decision.released": ("予以公开", "Released"),
    "handling.decision.partly_released": ("部分公开", "Partly released"),
    "handling.decision.not_released": ("不予公开", "Not released"),
    "handling.decision.not_exist": ("信息不存在", "Information does not exist"),
    "handling.decision.not_this_office": ("非本机关负责公开", "Not this office's to disclose"),
    "handling.decision.repeated": ("重复申请", "Repeated request"),
    "handling.decision_rule.released": ("第三十六条第（二）项", "art. 36(2)"),
    "handling.decision_rule.partly_released": ("第三十七条", "art. 37"),
    "handling.decision_rule.not_released": ("第三十六条第（三）项", "art. 36(3)"),
    "handling.decision_rule.not_exist": ("第三十六条第（四）项", "art. 36(4)"),
    "handling.decision_rule.not_this_office": ("第三十六条第（五）项", "art. 36(5)"),
    "handling.decision_rule.repeated": ("第三十六条第（六）项", "art. 36(6)"),
    "handling.basis": ("不予公开的依据", "Basis for withholding"),
    "handling.basis.art14_state_secret": ("第十四条 国家秘密", "Art. 14 state secret"),
    "handling.basis.art15_commercial_privacy": (
        "第十五条 商业秘密、个人隐私",
        "Art. 15 commercial secret / personal privacy",
    ),
    "handling.basis.art16_case_file": ("第十六条 行政执法案卷信息", "Art. 16 law-enforcement case file"),
    "handling.basis_hint": ("部分公开、不予公开时必填。", "Required for partly released and not released."),
    "handling.release_until": ("公开件可查阅至", "Released material visible until"),
    "handling.items": ("公开件", "Released items"),
    "handling.handling": ("办理", "Handling"),
    "handling.take": ("领取办理", "Take it"),
    "handling.assign_to": ("分办给", "Assign to"),
    "handling.assign": ("分办", "Assign"),
    "handling.not_yours": (
        "该申请由承办人办理；您可以查看，但不能办理。",
        "The assigned officer handles this request; you may read it but not act on it.",
    ),
    "handling.correction.title": ("补正告知", "Correction notice"),
    "handling.correction.lead": (
        "每件申请只能告知补正一次，须在 {day} 前发出；发出后期限暂停，收到补正之日重新起算。",
        "One notice per request, sent by {day}; the clock stops and restarts when the correction arrives.",
    ),
    "handling.correction.late": (
        "告知补正的期限（{day}）已过。",
        "The time for a correction notice ended on {day}.",
    ),
    "handling.correction.what": ("需要补正的内容", "What to correct"),
    "handling.correction.within": (
        "补正期限（{low}–{high} 个工作日）",
        "Period to correct ({low}–{high} working days)",
    ),
    "handling.correction.send": ("发出补正告知", "Send the correction notice"),
    "handling.correction.sent": (
        "已于 {day} 告知补正；每件申请只能告知补正一次（第三十条）。",
        "A correction notice went out on {day}; a request gets one only (art. 30).",
    ),
    "handling.consultation.title": ("征求第三方意见", "Consult a third party"),
    "handling.consultation.lead": (
        "公开可能损害第三方合法权益的，书面征求其意见；第三方在 15 个工作日内答复，"
        "该期间不计入答复期限（第三十二条、第三十三条）。",
        "Where disclosure may harm a third party, ask it in writing; it has 15 working days, which "
        "do not count towards the deadline (arts. 32, 33).",
    ),
    "handling.consultation.party": ("第三方", "Third party"),
    "handling.consultation.start": ("开始征求意见", "Start the consultation"),
    "handling.consultation.end_title": ("第三方意见", "The third party's answer"),
    "handling.consultation.reply": ("第三方的答复", "The answer"),
    "handling.consultation.reply_hint": (
        "逾期未答复的，写明“逾期未提出意见”。",
        "If it did not answer in time, say so.",
    ),
    "handling.consultation.end": ("结束征求意见，恢复计时", "End the consultation, restart the clock"),
    "handling.extension.title": ("申请延期答复", "Ask for an extension"),
    "handling.extension.lead": (
        "确需延长的，经档案负责人批准可延长一次，最长 {high} 个工作日（第三十三条）。",
        "One extension of at most {high} working days, with the archive manager's approval (art. 33).",
    ),
    "handling.extension.days": ("延长（1–{high} 个工作日）", "Extend by (1–{high} working days)"),
    "handling.extension.reason": ("延期理由", "Reason"),
    "handling.extension.request": ("提交延期申请", "Ask for the extension"),
    "handling.extension.own": (
        "这是您本人提出的延期申请：任何人不得审批本人的申请，请由其他档案负责人审批。",
        "You asked for this extension yourself: nobody decides their own request; another manager must.",
    ),
    "handling.extension.decide": ("延期审批", "Decide the extension"),
    "handling.extension.asked": ("{user} 申请延长 {n} 个工作日", "{user} asks for {n} more working days"),
    "handling.extension.decision_reason": ("审批意见", "Reason"),
    "handling.decide": ("作出答复", "Reply"),
    "handling.decide.lead": (
        "选择答复类型（第三十六条），写明理由；予以公开、部分公开时选择公开的记录，部分公开时上传删除不应公开内容后的文件并注明原记录。",
        "Choose the reply type (art. 36) and give reasons; for a release choose the records; for a "
        "partial release upload the redacted files and name each one's original record.",
    ),
    "handling.decide.send": ("作出答复", "Send the reply"),
    "handling.reasons": ("理由", "Reasons"),
    "handling.records": ("公开的记录", "Records to release"),
    "handling.records_hint": (
        "勾选向申请人公开的原件（复制到公开件存储，校验封存时的 SHA-256）。",
        "Tick the originals to release (copied to the release realm, checked against their sealed SHA-256).",
    ),
    "handling.records_none": (
        "申请未指明已归档的案件，没有可选择的记录。",
        "The request names no archived case.",
    ),
    "handling.state_secret": ("国家秘密，不得公开（第十四条）", "State secret: never released (art. 14)"),
    "handling.redactions": ("删除处理件（部分公开）", "Redacted files (partial release)"),
    "handling.redactions_hint": (
        "对不应公开的内容作删除处理后上传（第三十七条），每个文件注明所依据的原记录。",
        "Upload each redacted file (art. 37) and name the record it was made from.",
    ),
    "handling.redaction.original": ("第 {n} 件的原记录", "Original record of file {n}"),
    "handling.redaction.file": ("第 {n} 件删除处理件", "Redacted file {n}"),
    "handling.redaction.again": (
        "出于安全原因，请重新选择要上传的文件。",
        "For safety, choose the files to upload again.",
    ),
    "handling.message.title": ("给申请人留言", "Message to the applicant"),
    "handling.message.body": ("留言内容", "Message"),
    "handling.message.send": ("发送", "Send"),
    "handling.messages": ("往来记录", "Messages"),
    "handling.messages.none": ("暂无往来记录。", "No messages yet."),
    "handling.message.kind.correction_notice": ("补正告知", "Correction notice"),
    "handling.message.kind.correction": ("申请人补正", "The applicant's correction"),
    "handling.message.kind.extension": ("延期告知", "Extension notice"),
    "handling.message.kind.message": ("留言", "Message"),
    "handling.message.kind.decision": ("答复", "Reply"),
    "handling.message.kind.withdrawn": ("视为放弃", "Deemed withdrawn"),
    "handling.message.kind.withdrawn_by_applicant": ("申请人撤回申请", "Withdrawn by the applicant"),
    # input errors
    "handling.err.summary": ("未能办理，请按提示修改。", "Not done: see the messages below."),
    "handling.err.conflict": ("无法办理：{message}", "Cannot do this: {message}"),
    "handling.err.within_days": (
        "请填写 {low} 至 {high} 之间的工作日数。",
        "Give {low} to {high} working days.",
    ),
    "handling.err.extension_days": ("请填写 1 至 {high} 之间的工作日数。", "Give 1 to {high} working days."),
    "handling.err.decision": ("请选择答复类型。", "Choose the reply type."),
    "handling.err.basis": (
        "部分公开、不予公开须选择法律依据（第十四条、第十五条或第十六条）。",
        "Partly released and not released need their legal basis (art. 14, 15 or 16).",
    ),
    "handling.err.redaction_pair": (
        "每个删除处理件都须同时选择原记录和文件。",
        "Each redacted file needs both its original record and the file.",
    ),
    # the reply letter
    "handling.letter.open": ("答复告知书", "Reply letter"),
    "handling.letter.title": ("政府信息公开申请答复告知书", "Reply to a Request for Government Information"),
    "handling.letter.not_yet": (
        "该申请尚未答复，没有答复告知书。",
        "The request has no reply yet, so no letter.",
    ),
    "handling.letter.print": ("打印", "Print"),
    "handling.letter.back": ("返回申请", "Back to the request"),
    "handling.letter.print_hint": (
        "也可使用浏览器的打印功能（Ctrl+P，A4 纵向）。",
        "Or use the browser's print command (Ctrl+P, A4 portrait).",
    ),
    "handling.letter.number": ("申请编号：{code}", "Tracking code: {code}"),
    "handling.letter.to": ("{name}：", "Dear {name},"),
    "handling.letter.received": (
        "本机关于 {day} 收到您提出的政府信息公开申请（申请编号 {code}）",
        "On {day} this office received your request for government information (tracking code {code})",
    ),
    "handling.letter.case": ("，涉及案件 {case_no}", ", concerning case {case_no}"),
    "handling.letter.content": ("，申请内容如下：", ". You asked for:"),
    "handling.letter.decision_is": ("答复：{decision}。", "Reply: {decision}."),
    "handling.letter.decision.released": (
        "经审查，您申请公开的政府信息属于可以公开的范围，本机关予以公开，公开的信息见下列清单。",
        "The information you asked for may be disclosed; this office releases it as listed below.",
    ),
    "handling.letter.decision.partly_released": (
        "经审查，您申请公开的信息中含有依法不应当公开的内容，但能够作区分处理。本机关向您提供可以公开的部分"
        "（不应当公开的内容已作删除处理），对不予公开的部分说明理由如下。",
        "The information you asked for contains content that may not be disclosed but can be "
        "separated; this office provides the part that may be disclosed (the rest redacted) and "
        "gives the reasons for what is withheld below.",
    ),
    "handling.letter.decision.not_released": (
        "经审查，您申请公开的政府信息属于依法不予公开的范围，本机关决定不予公开，理由及依据如下。",
        "The information you asked for is not to be disclosed by law; this office does not release "
        "it, for the reasons and on the basis below.",
    ),
    "handling.letter.decision.not_exist": (
        "经检索，本机关没有您所申请公开的信息，该政府信息不存在。",
        "After a search, this office holds no such information; it does not exist.",
    ),
    "handling.letter.decision.not_this_office": (
        "经审查，您所申请公开的信息不属于本机关负责公开，理由如下。",
        "The information you asked for is not this office's to disclose, for the reasons below.",
    ),
    "handling.letter.decision.repeated": (
        "本机关已就您提出的相同政府信息公开申请作出答复，您重复申请公开相同的政府信息，本机关不予重复处理。",
        "This office has already replied to your request for the same information; a repeated "
        "request is not handled again.",
    ),
    "handling.letter.art36.released": (
        "《中华人民共和国政府信息公开条例》第三十六条第（二）项：所申请公开信息可以公开的，向申请人提供该政府信息，"
        "或者告知申请人获取该政府信息的方式、途径和时间。",
        "Regulations on Open Government Information, art. 36(2): where the information may be "
        "disclosed, provide it, or tell the applicant how, where and when to obtain it.",
    ),
    "handling.letter.art36.partly_released": (
        "《中华人民共和国政府信息公开条例》第三十六条第（三）项：行政机关依据本条例的规定决定不予公开的，"
        "告知申请人不予公开并说明理由。",
        "Regulations on Open Government Information, art. 36(3): where the office decides not to "
        "disclose under these Regulations, tell the applicant and give the reasons.",
    ),
    "handling.letter.art36.not_released": (
        "《中华人民共和国政府信息公开条例》第三十六条第（三）项：行政机关依据本条例的规定决定不予公开的，"
        "告知申请人不予公开并说明理由。",
        "Regulations on Open Government Information, art. 36(3): where the office decides not to "
        "disclose under these Regulations, tell the applicant and give the reasons.",
    ),
    "handling.letter.art36.not_exist": (
        "《中华人民共和国政府信息公开条例》第三十六条第（四）项：经检索没有所申请公开信息的，告知申请人该政府信息不存在。",
        "Regulations on Open Government Information, art. 36(4): where a search finds no such "
        "information, tell the applicant it does not exist.",
    ),
    "handling.letter.art36.not_this_office": (
        "《中华人民共和国政府信息公开条例》第三十六条第（五）项：所申请公开信息不属于本行政机关负责公开的，"
        "告知申请人并说明理由；能够确定负责公开该政府信息的行政机关的，告知申请人该行政机关的名称、联系方式。",
        "Regulations on Open Government Information, art. 36(5): where the information is not this "
        "office's to disclose, tell the applicant why and, where known, which office is and how to "
        "contact it.",
    ),
    "handling.letter.art36.repeated": (
        "《中华人民共和国政府信息公开条例》第三十六条第（六）项：行政机关已就申请人提出的政府信息公开申请作出答复、"
        "申请人重复申请公开相同政府信息的，告知申请人不予重复处理。",
        "Regulations on Open Government Information, art. 36(6): where the office has replied and "
        "the applicant asks again for the same information, tell the applicant it is not handled again.",
    ),
    "handling.letter.art37": (
        "第三十七条　申请公开的信息中含有不应当公开或者不属于政府信息的内容，但是能够作区分处理的，"
        "行政机关应当向申请人提供可以公开的政府信息内容，并对不予公开的内容说明理由。",
        "Article 37: Where the information asked for contains content that may not be disclosed, or "
        "that is not government information, but can be separated, the office provides what may be "
        "disclosed and gives reasons for what is withheld.",
    ),
    "handling.letter.basis": ("法律依据", "Legal basis"),
    "handling.letter.basis_is": (
        "依据《中华人民共和国政府信息公开条例》{basis}：",
        "Under the Regulations on Open Government Information, {basis}:",
    ),
    "handling.letter.article.art14_state_secret": _ART14,
    "handling.letter.article.art15_commercial_privacy": _ART15,
    "handling.letter.article.art16_case_file": _ART16,
    "handling.letter.reasons": ("理由", "Reasons"),
    "handling.letter.items": ("公开的政府信息", "Information released"),
    "handling.letter.item_no": ("序号", "No."),
    "handling.letter.item": ("名称", "Item"),
    "handling.letter.release": (
        "请于 {until} 前登录本机关政府信息公开公众门户查阅、下载上述信息；逾期不再提供网上查阅。",
        "View and download the items on this office's public portal before {until}; after that they "
        "are no longer online.",
    ),
    "handling.letter.sha_hint": (
        "SHA-256 为文件的数字摘要，可用于核对所下载文件与本告知书所列文件一致。",
        "The SHA-256 digest lets you check that a downloaded file is the one listed here.",
    ),
    "handling.letter.remedy_title": ("救济途径", "Remedies"),
    "handling.letter.remedy": (
        "如不服本答复，可以自收到本告知书之日起60日内向本机关所属的本级人民政府申请行政复议，"
        "或者在6个月内依法向人民法院提起行政诉讼。",
        "If you do not accept this reply, you may apply for administrative reconsideration to the "
        "people's government this office belongs to within 60 days of receiving this letter, or bring "
        "an administrative lawsuit before a people's court within 6 months according to law.",
    ),
    "handling.letter.seal": ("（印章）", "(seal)"),
    "handling.letter.handled_by": ("经办人：{name}", "Handled by {name}"),
    # the holiday table
    "calendar.title": ("节假日安排", "Holiday schedule"),
    "calendar.lead": (
        "公开申请的期限按工作日计算。国务院每年公布下一年度的节假日安排；软件内置的官方日历尚未覆盖的年度，"
        "须在此录入放假日和调休上班日，否则按周一至周五估算。",
        "Disclosure deadlines count working days. The State Council publishes each year's schedule "
        "late in the year before; for years the built-in official calendar does not cover yet, enter "
        "the days off and the swapped working days here, or deadlines are estimated Monday–Friday.",
    ),
    "calendar.year": ("年度", "Year"),
    "calendar.source": ("工作日依据", "Working days from"),
    "calendar.source.official": ("官方日历（内置）", "official calendar (built in)"),
    "calendar.source.entered": ("已录入", "entered table"),
    "calendar.source.weekdays": ("未录入：按周一至周五估算", "not entered: Monday–Friday estimate"),
    "calendar.entered": ("录入", "Entered"),
    "calendar.entered_by": ("{user} 于 {at} 录入，{n} 天", "by {user} at {at}, {n} day(s)"),
    "calendar.year_title": ("{year} 年", "{year}"),
    "calendar.day": ("日期", "Date"),
    "calendar.kind": ("类别", "Kind"),
    "calendar.name": ("名称", "Name"),
    "calendar.off": ("放假", "day off"),
    "calendar.work": ("调休上班", "working day (swapped)"),
    "calendar.missing": (
        "{year} 年的节假日安排尚未录入，涉及该年度的期限只是估算。",
        "The schedule for {year} is not entered; deadlines in that year are estimates.",
    ),
    "calendar.enter": ("录入 {year} 年节假日安排", "Enter the {year} schedule"),
    "calendar.replace": ("重新录入 {year} 年节假日安排", "Replace the {year} schedule"),
    "calendar.table": ("{year} 年节假日安排（每行一天）", "The {year} schedule (one day a line)"),
    "calendar.placeholder": (
        "{year}-01-01 off 元旦\n{year}-02-14 work 春节调休",
        "{year}-01-01 off New Year\n{year}-02-14 work Spring Festival swap",
    ),
    "calendar.hint": (
        "每行：日期 off|work 名称，例如“2027-01-01 off 元旦”“2027-02-07 work 春节调休”；也可写“休”“班”。"
        "只列出与周一至周五不同的日子；# 之后为注释。",
        "One day a line: date off|work name, e.g. “2027-01-01 off New Year”, “2027-02-07 work "
        "swap”; 休/班 work too. List only the days that differ from Monday–Friday; # starts a comment.",
    ),
    "calendar.save": ("保存", "Save"),
    "calendar.err.empty": (
        "请至少录入一天；全年没有节假日的安排不存在。",
        "Enter at least one day; no year is without holidays.",
    ),
}
