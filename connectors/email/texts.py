"""Citizen-facing texts of the mayor's mailbox (Simplified Chinese), in one place for review."""

from __future__ import annotations

DEFAULT_SUBJECT = "您的来信"

AUTO_REPLY_GREETING = "您好！\n\n您发往平顶山市12345政务服务便民热线（市长信箱）的来信已收到。"

AUTO_REPLY_TICKET = "工单编号：{ticket_no}"

# When the pipeline's answer is not ready in time the mail is still safely queued; the
# citizen gets a receipt now and the ticket number with the handling reply later.
AUTO_REPLY_PENDING = "您的来信已进入受理流程，工单编号和办理情况将另行回复。"

AUTO_REPLY_FOOTER = (
    "如需补充材料，请直接回复本邮件，并保留邮件主题中的工单编号。\n"
    "紧急情况请拨打110、119、120；咨询、投诉、求助也可拨打12345热线。\n\n"
    "本邮件由系统自动发送。\n"
    "平顶山市12345政务服务便民热线"
)

OPERATOR_REPLY_FOOTER = (
    "如对办理结果有疑问，请直接回复本邮件，并保留邮件主题中的工单编号。\n\n"
    "平顶山市12345政务服务便民热线"
)

RELAY_NOT_CONFIGURED = "未配置发信服务器"
INVALID_RECIPIENT = "收件地址无效"
RELAY_REFUSED_RECIPIENT = "发信服务器拒绝了收件地址：{detail}"
RELAY_TEMPORARY = "发信服务器暂时无法投递：{detail}"
RELAY_PERMANENT = "发信服务器拒绝投递：{detail}"
RELAY_UNREACHABLE = "无法连接发信服务器：{detail}"

# Notes on attachments the connector refused (shown to operators with the ticket).
ATTACHMENT_TOO_MANY = "附件过多（上限 {limit} 个）"
ATTACHMENT_UNREADABLE = "附件无法解码"


def auto_reply_body(reply_text: str | None, ticket_no: str | None) -> str:
    parts = [AUTO_REPLY_GREETING]
    if reply_text and reply_text.strip():
        parts.append(reply_text.strip())
        if ticket_no and ticket_no not in reply_text:
            parts.append(AUTO_REPLY_TICKET.format(ticket_no=ticket_no))
    else:
        parts.append(AUTO_REPLY_PENDING)
    parts.append(AUTO_REPLY_FOOTER)
    return "\n\n".join(parts) + "\n"


def operator_reply_body(text: str, ticket_no: str | None) -> str:
    parts = ["您好！", text.strip()]
    if ticket_no and ticket_no not in text:
        parts.append(AUTO_REPLY_TICKET.format(ticket_no=ticket_no))
    parts.append(OPERATOR_REPLY_FOOTER)
    return "\n\n".join(parts) + "\n"


def reply_subject(original: str | None, ticket_no: str | None) -> str:
    """``Re: 原主题 [PDS…]`` without piling up Re:/回复: prefixes or repeating the number."""
    subject = strip_reply_prefixes(original or "") or DEFAULT_SUBJECT
    if ticket_no and ticket_no not in subject:
        subject = f"{subject} [{ticket_no}]"
    return f"Re: {subject}"[:300]


_PREFIXES = ("re:", "re：", "回复:", "回复：", "答复:", "答复：", "fw:", "fwd:", "转发:", "转发：", "aw:", "sv:")


def strip_reply_prefixes(subject: str) -> str:
    s = subject.strip()
    changed = True
    while changed:
        changed = False
        low = s.lower()
        for p in _PREFIXES:
            if low.startswith(p):
                s = s[len(p):].lstrip()
                changed = True
                break
    return s
