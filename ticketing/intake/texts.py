"""Citizen-facing texts the pipeline sends (Simplified Chinese)."""

from __future__ import annotations

from datetime import datetime

from config.local_time import LOCAL_TZ

EMERGENCY_NAMES = {"police": "公安报警", "fire": "火警", "medical": "医疗急救", "traffic": "交通事故报警"}


def emergency_reply(number: str, kind: str) -> str:
    name = EMERGENCY_NAMES.get(kind, "紧急求助")
    return (
        f"您反映的情况可能属于紧急情况，请立即拨打 {number}（{name}）。"
        "12345 热线不受理紧急警情，您的留言已同时标记为紧急，工作人员会尽快查看。"
    )


def ticket_created(number: str, deadline: datetime | None, off_hours_note: str | None = None) -> str:
    text = f"您的诉求已受理，工单号：{number}。网络热线工作人员将尽快审核并转交承办单位办理。"
    if deadline:
        text += f"办理时限至 {deadline.astimezone(LOCAL_TZ):%Y年%m月%d日}。"
    text += "您可凭工单号和手机号后四位在“办件查询”中查看进度。"
    if off_hours_note:
        text += off_hours_note
    return text


def ticket_created_unclassified(number: str, off_hours_note: str | None = None) -> str:
    return (
        f"您的诉求已受理，工单号：{number}。工作人员将人工审核后转交承办单位办理，"
        "您可凭工单号和手机号后四位查询办理进度。"
    ) + (off_hours_note or "")


def followup_ack(number: str, off_hours_note: str | None = None) -> str:
    return f"已收到您的补充信息，已转给正在处理工单 {number} 的工作人员，请耐心等待答复。" + (off_hours_note or "")


def empty_message() -> str:
    return "您好，请用文字描述您要咨询、投诉或反映的问题，我们会尽快处理。"


def new_matter(open_number: str) -> str:
    """Put before the receipt of a ticket opened while another of the citizen's is still open."""
    return f"您这次反映的是新的事项，已另行受理，与工单 {open_number} 分开办理。"


def contact_recorded(masked_phone: str) -> str:
    return f"已记录您的联系电话 {masked_phone}，可凭工单号和手机号后四位查询办理进度。"


def human_receipt() -> str:
    return "已收到，工作人员会尽快回复。"


def gathering_receipt(number: str) -> str:
    """The receipt of a ticket the bot still has a question about (the question follows)."""
    return f"您的诉求已登记，工单号：{number}。"


def gathering_noted() -> str:
    return "好的，已记录。"


def gathering_skipped() -> str:
    return "好的。"


def gathering_done(number: str, off_hours_note: str | None = None) -> str:
    return (f"谢谢，信息已补充。工单 {number} 已转交网络热线工作人员审核，并将尽快转交承办单位办理。"
            "您可凭工单号和手机号后四位在“办件查询”中查看进度。") + (off_hours_note or "")
