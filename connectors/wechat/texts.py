"""Every citizen-facing text of the WeChat connector (Simplified Chinese).

Texts published to the intake stream as a message's ``text`` are marked as such: the NLU
reads them, so they are short, factual and never empty.
"""

from __future__ import annotations

EMERGENCY_LINE = "紧急情况请直接拨打110（报警）、119（火警）、120（急救）、122（交通事故）。"

# Passive reply to a new follower.
WELCOME = (
    "您好，欢迎关注平顶山12345政务服务便民热线！\n"
    "您可以在这里直接发送文字、图片或位置，办理政策咨询、投诉、举报、求助、意见建议和表扬，"
    "我们会尽快答复并告知受理编号，也可以凭编号查询办理进度。\n" + EMERGENCY_LINE
)

# A voice message without WeChat's speech recognition result.
VOICE_NOT_RECOGNISED = (
    "抱歉，暂时无法识别您的语音内容，请改用文字描述您的诉求（事项、地点、时间），我们会尽快处理。\n" + EMERGENCY_LINE
)

# Message types we do not take (video, file, link, ...).
UNSUPPORTED = "抱歉，暂不支持此类消息。请用文字描述您的诉求，也可以发送图片或位置。\n" + EMERGENCY_LINE

# A text message with nothing in it.
EMPTY_TEXT = "请用文字描述您要咨询、投诉、举报、求助或建议的事项，我们会尽快答复。"

# ---- texts published to the stream (read by the NLU and shown to operators) ---------

IMAGE_TEXT = "（图片）"
UNSUBSCRIBE_TEXT = "（取消关注）"


def location_text(label: str | None, latitude: str | None, longitude: str | None) -> str:
    place = (label or "").strip()
    coords = f"纬度 {latitude}，经度 {longitude}" if latitude and longitude else ""
    if place and coords:
        return f"位置：{place}（{coords}）"
    return f"位置：{place or coords or '未知'}"
