"""The public portal's messages: key → (Simplified Chinese, English)."""

from __future__ import annotations

PUBLIC_MESSAGES: dict[str, tuple[str, str]] = {
    # the frame
    "public.footer": (
        "依申请公开的办理过程和每一次查阅公开材料均记入访问台账。",
        "Every step of a disclosure request and every viewing of released material is in the access ledger.",
    ),
    "public.kicker": ("政府信息公开申请（依申请公开）", "Information-disclosure request"),
    "public.nav.label": ("申请人导航", "Applicant navigation"),
    "public.nav.home": ("首页", "Home"),
    "public.nav.mine": ("我的申请", "My requests"),
    "public.nav.new": ("提交新申请", "New request"),
    "public.nav.signed_in_as": ("已登录：{name}", "Signed in: {name}"),
    "public.nav.signout": ("退出登录", "Sign out"),
    "public.nav.signin": ("登录", "Sign in"),
    "public.nav.register": ("注册申请人账号", "Register as an applicant"),
    "public.home.apply": ("在线提交公开申请", "Apply online"),
    "public.home.track": ("查看我的申请", "Track my requests"),
    "public.back_to_mine": ("返回我的申请", "Back to my requests"),
    "public.optional": ("（选填）", "(optional)"),
    # sign-in
    "public.signin.title": ("申请人登录", "Applicant sign-in"),
    "public.signin.lead": (
        "登录后可以提交政府信息公开申请、查看办理进度和公开材料。",
        "Sign in to file information-disclosure requests, follow them and see released material.",
    ),
    "public.signin.submit": ("登录", "Sign in"),
    "public.signin.no_account": ("还没有账号？", "No account yet?"),
    "public.signin.staff": (
        "本页面仅供申请人使用；机关工作人员请使用内部门户。",
        "This page is for applicants only; office staff use the internal portal.",
    ),
    "public.signin.csrf": (
        "表单已过期或并非来自本页面，请重新填写后提交。",
        "The form expired or did not come from this page; please fill it in again.",
    ),
    "public.signin.failed": (
        "用户名或密码不正确，或账号已被锁定、停用。连续失败 {attempts} 次将锁定 {minutes} 分钟。",
        "Wrong username or password, or the account is locked or disabled. "
        "{attempts} failures in a row lock it for {minutes} minutes.",
    ),
    # fields
    "public.field.name": ("姓名或单位名称", "Name (person or organisation)"),
    "public.field.name.hint": (
        "与身份证件上的一致；以单位名义申请的，填写单位全称。",
        "As on the identity document; an organisation gives its full registered name.",
    ),
    "public.field.id_type": ("证件类型", "Identity document"),
    "public.field.id_number": ("证件号码", "Document number"),
    "public.field.id_number.hint": (
        "证件号码加密保存，页面上只显示部分号码。",
        "The number is stored encrypted; pages only ever show part of it.",
    ),
    "public.field.phone": ("联系电话", "Phone"),
    "public.field.email": ("电子邮箱", "Email"),
    "public.field.address": ("通信地址", "Postal address"),
    "public.field.address.hint": (
        "选择纸质邮寄获取材料的，请填写收件地址。",
        "Needed if you want the material on paper by post.",
    ),
    "public.field.username": ("用户名", "Username"),
    "public.field.username.hint": (
        "2–64 位小写字母、数字或 _ . -，以字母或数字开头。",
        "2–64 lower-case letters, digits or _ . -, starting with a letter or digit.",
    ),
    "public.field.password": ("密码", "Password"),
    "public.field.password.hint": ("至少 {n} 个字符。", "At least {n} characters."),
    "public.field.password_confirm": ("再次输入密码", "Password again"),
    "public.field.relation": ("您与所申请信息的关系", "How you stand to the information"),
    "public.field.case_no": ("案号", "Case number"),
    "public.field.case_no.hint": (
        "知道案号的请填写，例如 深民防罚〔2026〕12号；不知道可以不填，在下面描述清楚即可。",
        "If you know it, e.g. 深民防罚〔2026〕12号; if not, describe the case below.",
    ),
    "public.field.description": ("所需信息的描述", "What information you ask for"),
    "public.field.description.hint": (
        "请写明所需信息的名称、文号或者便于查询的其他特征（时间、地点、当事人、执法活动等）。",
        "Name the information, its document number, or other details that help find it "
        "(date, place, parties, the enforcement activity).",
    ),
    "public.field.delivery": ("获取信息的方式", "How you want the information"),
    # identity documents
    "public.id_type.resident_id": ("居民身份证", "Resident identity card"),
    "public.id_type.passport": ("护照", "Passport"),
    "public.id_type.hk_macao_permit": ("港澳居民来往内地通行证", "Mainland travel permit (Hong Kong/Macao)"),
    "public.id_type.taiwan_permit": ("台湾居民来往大陆通行证", "Mainland travel permit (Taiwan)"),
    "public.id_type.foreign_permanent": ("外国人永久居留身份证", "Foreign permanent resident ID card"),
    "public.id_type.organization_code": (
        "统一社会信用代码（以单位名义申请）",
        "Unified social credit code (applying as an organisation)",
    ),
    # registration
    "public.register.title": ("注册申请人账号", "Register as an applicant"),
    "public.register.lead": (
        "依照《中华人民共和国政府信息公开条例》第二十九条，申请时须提供身份证明和联系方式。",
        "Under article 29 of the Regulations on Open Government Information, a request gives the "
        "applicant's identity and contact details.",
    ),
    "public.register.identity": ("身份信息", "Identity"),
    "public.register.contact": ("联系方式", "Contact"),
    "public.register.account": ("账号", "Account"),
    "public.register.privacy": (
        "您的个人信息仅用于办理您的申请；证件号码加密保存，只有本机关的办理人员可以解密核对。",
        "Your details are used only to handle your requests; the document number is stored "
        "encrypted and only the office's staff can open it to check.",
    ),
    "public.register.submit": ("注册并登录", "Register and sign in"),
    "public.register.have_account": ("已有账号？", "Already registered?"),
    # errors next to fields
    "public.err.summary": (
        "未能提交，请按字段旁的提示修改。",
        "Not sent: please correct the fields marked.",
    ),
    "public.err.required": ("此项必填。", "Required."),
    "public.err.too_long": ("最多 {n} 个字符。", "At most {n} characters."),
    "public.err.id_check": (
        "身份证号码的校验位不正确，请核对号码。",
        "The check digit of this ID number does not match; please check the number.",
    ),
    "public.err.id_resident": (
        "居民身份证号码为 17 位数字加 1 位数字或 X。",
        "A resident ID number has 17 digits and a final digit or X.",
    ),
    "public.err.id_other": ("证件号码为 6–20 位字母或数字。", "6–20 letters and digits."),
    "public.err.choose": ("请选择一项。", "Choose one."),
    "public.err.username_taken": ("该用户名已被使用，请换一个。", "This username is taken; choose another."),
    "public.err.username_format": (
        "用户名须为 2–64 位小写字母、数字或 _ . -，以字母或数字开头。",
        "2–64 lower-case letters, digits or _ . -, starting with a letter or digit.",
    ),
    "public.err.password_short": ("密码至少 {n} 个字符。", "At least {n} characters."),
    "public.err.password_confirm": ("两次输入的密码不一致。", "The two passwords differ."),
    "public.err.phone": (
        "请填写电话号码：数字，可含 +、空格或连字符。",
        "A phone number: digits, optionally with +, spaces or hyphens.",
    ),
    "public.err.email": ("请填写有效的电子邮箱地址。", "Not an email address."),
    # the request form
    "public.new.title": ("提交政府信息公开申请", "File an information-disclosure request"),
    "public.new.registered": (
        "注册成功，您已登录。现在可以提交申请。",
        "You are registered and signed in. You can file your request now.",
    ),
    "public.new.lead": (
        "行政相对人和利害关系人可以申请获取与本机关行政执法案件相关的政府信息。",
        "Parties and interested parties may ask for government information about the office's "
        "enforcement cases.",
    ),
    "public.new.deadline": (
        "本机关自收到申请之日起 20 个工作日内答复（收到当日不计入）；"
        "需要补正的，在 7 个工作日内一次性告知，自收到补正之日起重新计算。",
        "The office answers within 20 working days of receipt (the day of receipt is not "
        "counted); if anything is unclear it asks once, within 7 working days, and the 20 days "
        "start again when your correction arrives.",
    ),
    "public.new.submit": ("提交申请", "File the request"),
    "public.relation.party": ("行政相对人", "Party to the case"),
    "public.relation.party.hint": ("案件的当事人。", "The person or organisation the case was about."),
    "public.relation.interested_party": ("利害关系人", "Interested party"),
    "public.relation.interested_party.hint": (
        "与案件有利害关系的其他人。",
        "Someone else whose rights the case affects.",
    ),
    "public.delivery.online": ("网上查阅、下载", "Online: view and download here"),
    "public.delivery.online.hint": (
        "公开的材料在限定期限内通过本门户提供。",
        "Released material is offered on this portal for a limited time.",
    ),
    "public.delivery.paper": ("纸质邮寄", "On paper, by post"),
    "public.delivery.paper.hint": (
        "邮寄到您登记的通信地址。",
        "Posted to the address you registered.",
    ),
    # my requests
    "public.mine.title": ("我的申请", "My requests"),
    "public.mine.empty": ("您还没有提交申请。", "You have not filed any request yet."),
    # status
    "public.status.received": ("已受理，办理中", "Received, being handled"),
    "public.status.received.desc": (
        "本机关已收到您的申请，正在办理，将在答复期限内答复。",
        "The office has your request and will answer by the deadline.",
    ),
    "public.status.awaiting_correction": ("待补正", "Waiting for your correction"),
    "public.status.awaiting_correction.desc": (
        "申请内容需要补正，请在补正期限内按要求补充。答复期限在收到补正后重新计算。",
        "The request needs a correction; please send it by the date given. "
        "The time to answer starts again when it arrives.",
    ),
    "public.status.in_consultation": ("征求第三方意见中", "Consulting a third party"),
    "public.status.in_consultation.desc": (
        "公开可能损害第三方合法权益，本机关正在征求第三方意见；所需时间不计入答复期限。",
        "Disclosure may affect a third party, whom the office is consulting; "
        "that time is not counted in the deadline.",
    ),
    "public.status.decided": ("已答复", "Answered"),
    "public.status.decided.desc": ("本机关已作出答复，见下方。", "The office has answered; see below."),
    "public.status.withdrawn": ("已撤回", "Withdrawn"),
    "public.status.withdrawn.desc": (
        "本申请已撤回：由您撤回，或因补正期限内未收到补正，依照条例第三十条视为放弃申请。"
        "您可以重新提交申请。",
        "The request is withdrawn: by you, or because no correction arrived in time, so under "
        "article 30 it is deemed withdrawn. You may file a new one.",
    ),
    # tracking
    "public.track.title": ("申请 {code}", "Request {code}"),
    "public.track.corrected": (
        "补正已提交，答复期限自今日起重新计算。",
        "Your correction was sent; the time to answer starts again today.",
    ),
    "public.track.status": ("办理状态", "Status"),
    "public.track.tracking_code": ("申请编号", "Tracking code"),
    "public.track.received_on": ("收到申请日期", "Received on"),
    "public.track.clock_from": ("收到补正日期", "Correction received on"),
    "public.track.due_on": ("答复期限", "Answer due by"),
    "public.track.estimated_short": ("（推算）", "(estimate)"),
    "public.track.paused": ("暂停计算，待您补正", "Paused until your correction arrives"),
    "public.track.days_left": ("剩余工作日", "Working days left"),
    "public.track.left": ("还剩 {n} 个工作日", "{n} working days left"),
    "public.track.due_today": ("今天到期", "Due today"),
    "public.track.overdue": ("已超过答复期限 {n} 个工作日", "{n} working days past the deadline"),
    "public.track.estimated": (
        "注意：{years} 年的法定节假日安排尚未录入，答复期限暂按周一至周五推算，"
        "实际期限可能因节假日和调休而顺延。",
        "Note: the official holiday schedule for {years} is not yet entered, so this deadline "
        "was computed counting Monday to Friday; holidays may move it later.",
    ),
    "public.track.consultation": (
        "征求第三方意见期间（最迟至 {until}）不计入答复期限。",
        "Time spent consulting the third party (until {until} at the latest) is not counted.",
    ),
    "public.track.extended": (
        "经批准，答复期限延长 {n} 个工作日。",
        "With approval, the time to answer was extended by {n} working days.",
    ),
    "public.track.your_request": ("申请内容", "Your request"),
    "public.track.applicant": ("申请人", "Applicant"),
    # correction
    "public.correction.title": ("补正告知", "Correction notice"),
    "public.correction.lead": (
        "本机关于 {asked_on} 告知您补正申请内容，请在 {by} 前（含当日）提交补正：",
        "On {asked_on} the office asked you to correct your request; please answer by {by} (inclusive):",
    ),
    "public.correction.field": ("补正内容", "Your correction"),
    "public.correction.hint": (
        "按告知的要求补充或更正；提交后答复期限重新计算。",
        "Add or correct what the notice asks for; the time to answer then starts again.",
    ),
    "public.correction.submit": ("提交补正", "Send the correction"),
    # the reply
    "public.reply.title": ("答复", "Reply"),
    "public.reply.decision": ("答复结果", "Decision"),
    "public.reply.decided_on": ("答复日期", "Answered on"),
    "public.reply.basis": ("法律依据", "Legal basis"),
    "public.reply.reasons": ("理由", "Reasons"),
    "public.reply.letter": ("查看、打印答复书", "View and print the reply letter"),
    "public.decision.released": ("予以公开", "Released"),
    "public.decision.partly_released": ("部分公开", "Partly released"),
    "public.decision.not_released": ("不予公开", "Not released"),
    "public.decision.not_exist": ("信息不存在", "The information does not exist"),
    "public.decision.not_this_office": ("非本机关负责公开", "Not this office's to release"),
    "public.decision.repeated": ("重复申请，不予重复处理", "Repeated request, not handled again"),
    "public.basis.art14_state_secret": (
        "《政府信息公开条例》第十四条（国家秘密）",
        "Regulations, article 14 (state secrets)",
    ),
    "public.basis.art15_commercial_privacy": (
        "《政府信息公开条例》第十五条（商业秘密、个人隐私）",
        "Regulations, article 15 (commercial secrets, personal privacy)",
    ),
    "public.basis.art16_case_file": (
        "《政府信息公开条例》第十六条（行政执法案卷信息）",
        "Regulations, article 16 (case-file information)",
    ),
    # released material
    "public.items.title": ("公开的材料", "Released material"),
    "public.items.until": ("可在 {until} 前查阅、下载。", "Available to view and download until {until}."),
    "public.items.until_label": ("可查阅至", "Available until"),
    "public.items.ended": (
        "公开材料的提供期限已于 {until} 结束。如仍需要，请重新提交申请。",
        "The period for this material ended on {until}. File a new request if you still need it.",
    ),
    "public.items.redacted": ("已删除不应公开的内容", "Redacted"),
    "public.items.redacted.desc": (
        "依照条例第三十七条，删除了不应公开的内容后提供。",
        "Under article 37, the parts that may not be released were removed.",
    ),
    "public.items.view": ("查看", "View"),
    "public.items.download": ("下载", "Download"),
    "public.items.ledgered": (
        "每一次查看和下载均记入访问台账。",
        "Every view and download is written to the access ledger.",
    ),
    "public.item.back": ("返回申请 {code}", "Back to request {code}"),
    "public.item.filename": ("文件名", "File name"),
    "public.item.size": ("大小", "Size"),
    "public.item.no_preview": (
        "此类文件不能在页面中预览，请下载后查看。",
        "This kind of file cannot be shown here; download it to open it.",
    ),
    "public.item.sha_hint": (
        "可以用 SHA-256 摘要核对下载的文件是否完整、未被改动。",
        "The SHA-256 digest lets you check the downloaded file is complete and unchanged.",
    ),
    # the timeline
    "public.timeline.title": ("办理记录", "What has happened"),
    "public.timeline.filed": ("提交申请", "Request filed"),
    "public.timeline.office": ("本机关", "the office"),
    "public.timeline.you": ("您", "you"),
    "public.msg.correction_notice": ("补正告知", "Correction notice"),
    "public.msg.correction": ("提交补正", "Correction sent"),
    "public.msg.extension": ("延期答复", "Extension"),
    "public.msg.message": ("留言", "Message"),
    "public.msg.decision": ("答复", "Reply"),
    "public.msg.withdrawn": ("视为放弃申请", "Deemed withdrawn"),
    "public.msg.withdrawn_by_applicant": ("撤回申请", "Withdrawn by you"),
    # the reply letter
    "public.letter.title": ("政府信息公开申请答复书", "Reply to an information-disclosure request"),
    "public.letter.print_hint": (
        "请使用浏览器的打印功能打印本页。",
        "Use the browser's print command to print this page.",
    ),
    "public.letter.number": ("编号：{code}", "Ref.: {code}"),
    "public.letter.to": ("{name}：", "To {name}:"),
    "public.letter.received": (
        "本机关于 {received_on} 收到您提交的政府信息公开申请（编号 {code}），申请内容如下：",
        "On {received_on} the office received your information-disclosure request ({code}):",
    ),
    "public.letter.reply_is": (
        "经审查，现依照《中华人民共和国政府信息公开条例》答复如下：",
        "Having examined it, the office replies under the Regulations on Open Government Information:",
    ),
    "public.letter.decision.released": (
        "您申请的信息属于可以公开的政府信息，依照条例第三十六条第（二）项，本机关予以公开。",
        "The information may be disclosed; under article 36 (2) the office releases it.",
    ),
    "public.letter.decision.partly_released": (
        "您申请的信息中含有不应公开的内容，但能够作区分处理，依照条例第三十七条，本机关公开可以公开的部分。",
        "The information holds parts that may not be disclosed but can be separated; under "
        "article 37 the office releases the rest.",
    ),
    "public.letter.decision.not_released": (
        "依照条例第三十六条第（三）项，本机关决定不予公开，理由如下。",
        "Under article 36 (3) the office decides not to release the information, for the reasons below.",
    ),
    "public.letter.decision.not_exist": (
        "经检索，本机关没有您申请的信息，依照条例第三十六条第（四）项告知您该政府信息不存在。",
        "A search found no such information; under article 36 (4) the office tells you it does not exist.",
    ),
    "public.letter.decision.not_this_office": (
        "您申请的信息不属于本机关负责公开，依照条例第三十六条第（五）项告知您，理由如下。",
        "The information is not this office's to disclose; under article 36 (5) the office tells "
        "you so, for the reasons below.",
    ),
    "public.letter.decision.repeated": (
        "本机关已就相同内容的申请作出答复，依照条例第三十六条第（六）项，不予重复处理。",
        "The office has already answered a request for the same information; under article 36 (6) "
        "it is not handled again.",
    ),
    "public.letter.basis.art14_state_secret": (
        "依据：条例第十四条，依法确定为国家秘密的政府信息不予公开。",
        "Basis: article 14, information lawfully classified as a state secret is not disclosed.",
    ),
    "public.letter.basis.art15_commercial_privacy": (
        "依据：条例第十五条，涉及商业秘密、个人隐私等公开会对第三方合法权益造成损害的政府信息，"
        "行政机关不得公开，但第三方同意公开或者不公开会对公共利益造成重大影响的除外。",
        "Basis: article 15, information whose disclosure would harm a third party's lawful rights, "
        "such as commercial secrets or personal privacy, is not disclosed unless the third party "
        "agrees or withholding it would gravely affect the public interest.",
    ),
    "public.letter.basis.art16_case_file": (
        "依据：条例第十六条第二款，行政机关在履行行政管理职能过程中形成的行政执法案卷信息，可以不予公开。",
        "Basis: article 16 (2), case-file information produced in administrative enforcement "
        "may be withheld.",
    ),
    "public.letter.items": (
        "公开的材料共 {n} 件，已通过公众门户提供，可在 {until} 前查阅、下载：",
        "{n} item(s) are released on the public portal, available until {until}:",
    ),
    "public.letter.remedies_title": ("救济途径", "Remedies"),
    "public.letter.remedies": (
        "如对本答复不服，可以自知道本答复之日起 {days} 日内依法申请行政复议，"
        "或者自知道本答复之日起 {months} 个月内依法向人民法院提起行政诉讼。",
        "If you disagree with this reply, you may apply for administrative reconsideration within "
        "{days} days of learning of it, or bring an administrative lawsuit before a people's court "
        "within {months} months of learning of it.",
    ),
    # errors and refusals
    "public.error.401": ("需要登录", "Sign-in needed"),
    "public.error.403": ("无法办理", "Refused"),
    "public.error.404": ("未找到", "Not found"),
    "public.error.409": ("当前状态下不能办理", "Not possible now"),
    "public.error.416": ("请求的范围无效", "Range not satisfiable"),
    "public.error.413": ("提交的内容过大", "Request too large"),
    "public.error.422": ("输入有误", "Invalid input"),
    "public.error.500": ("系统出错", "Internal error"),
    "public.error.503": ("服务暂时不可用", "Temporarily unavailable"),
    "public.error.other": ("出错了", "Something went wrong"),
    "public.error.404.desc": (
        "没有这个申请或材料，或者它不属于您。",
        "No such request or item, or it is not yours.",
    ),
    "public.error.409.desc": (
        "申请当前的办理状态不允许这一步，请刷新申请页面查看最新状态。",
        "The request's current state does not allow this step; reload its page to see where it stands.",
    ),
    "public.error.413.desc": (
        "提交的内容超过了允许的大小，未被接收。请缩小后重新提交。",
        "What was sent is larger than allowed and was not accepted. Make it smaller and send it again.",
    ),
    "public.error.422.desc": ("请检查地址或表单中的内容。", "Check the address or the form."),
    "public.error.500.desc": (
        "系统内部出错，已记入日志；您的操作没有被部分保存。",
        "Something failed inside the system; it has been logged. Nothing was half-saved.",
    ),
    "public.error.503.desc": (
        "数据库或存储服务暂时无法访问，请稍后再试；您的操作没有被部分保存。",
        "The database or storage is unavailable for a moment; please try again shortly. "
        "Nothing was half-saved.",
    ),
    "public.error.rule": ("依据规则", "Rule"),
    "public.error.ledgered": ("此次拒绝已记入访问台账。", "This refusal is in the access ledger."),
    "public.error.home": ("返回首页", "Back to the start page"),
    "public.rule.release-period": (
        "公开材料的提供期限已经结束，不能再查阅或下载。如仍需要，请重新提交申请。",
        "The period for viewing this material has ended. File a new request if you still need it.",
    ),
    "public.rule.csrf": (
        "表单校验未通过，请刷新页面后重试。",
        "The form's security check failed; reload the page and try again.",
    ),
    "public.rule.own-requests-only": (
        "申请人只能查看和办理本人的申请。",
        "Applicants see and act on their own requests only.",
    ),
    "public.rule.other": ("此操作未被允许。", "This is not allowed."),
    "public.withdraw.hint": (
        "如不再需要这些信息，可以在答复前撤回申请；撤回后本机关不再办理。",
        "If you no longer need the information you may withdraw the request before the reply; "
        "the office then stops working on it.",
    ),
    "public.withdraw.submit": ("撤回申请", "Withdraw the request"),
}
