"""Every app-facing text of the Open311 channel (Simplified Chinese): the error descriptions."""

from __future__ import annotations

SERVICE_CODE_REQUIRED = "缺少 service_code（服务类别代码）"
LOCATION_REQUIRED = "请提供位置：lat 与 long，或 address_string，或 address_id"
INVALID_LAT_LONG = "lat/long 必须是有效的 WGS84 经纬度"
DESCRIPTION_REQUIRED = "请填写 description（诉求内容）"
INVALID_PHONE = "phone 格式不正确，请填写11位手机号或带区号的固定电话"
INVALID_EMAIL = "email 格式不正确"
INVALID_MEDIA_URL = "media_url 必须是 http 或 https 地址"
ATTRIBUTES_UNSUPPORTED = "本系统的服务类别没有附加属性（attribute），请勿提交"
DUPLICATE_FIELD = "每个字段只能提交一次"


def unknown_service(code: str) -> str:
    return f"未知的 service_code：{code}"


def too_long(field: str, max_len: int) -> str:
    return f"{field} 不能超过 {max_len} 个字符"


def unknown_fields(names: list[str]) -> str:
    return f"不支持的字段：{', '.join(names)}"
