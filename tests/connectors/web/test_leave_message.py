"""The 网民留言 form validation (pure: no I/O)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from config.directory import load_directory
from connectors.base import AttachmentRef, InboundMessage
from connectors.web.leave_message import (
    MAX_IMAGE_BYTES,
    LeaveMessageInvalid,
    UploadedImage,
    build_leave_message,
    message_id,
    validate_leave_message,
)

REGIONS = load_directory().region_codes
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64
GIF = b"GIF89a" + b"\0" * 64
WEBP = b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 64


def fields(**overrides):
    values = {"name": "李女士", "phone": "138 3751 2345", "region": "weidong", "title": "建设路路灯不亮",
              "content": "卫东区建设路与中兴路交叉口的路灯已经坏了两周，晚上很黑。", "form_id": "f" * 24}
    values.update(overrides)
    return values


def validate(values=None, images=()):
    return validate_leave_message(values or fields(), images, region_codes=REGIONS)


def errors_of(values=None, images=()) -> dict[str, str]:
    with pytest.raises(LeaveMessageInvalid) as info:
        validate(values, images)
    return info.value.errors


def test_a_valid_form_becomes_a_forced_ticket_message():
    form = validate(images=[UploadedImage("a.png", "image/png", PNG), UploadedImage("b.jpg", "image/jpeg", JPEG)])
    assert form.phone == "13837512345"  # spaces removed
    ref = AttachmentRef("a.png", "image/png", len(PNG), "2026/01/01/x.png", "image")
    now = datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)
    msg = build_leave_message(form, sender_id="v" + "x" * 32, attachments=[ref], now=now)
    assert msg.channel == "web" and msg.sender_id == "v" + "x" * 32
    assert msg.text == form.content and msg.subject is None
    assert msg.contact.name == "李女士" and msg.contact.phone == "13837512345"
    assert msg.attachments == (ref,)
    assert dict(msg.metadata) == {"force_ticket": True, "region_hint": "weidong", "title": "建设路路灯不亮",
                                  "msg_type": "leave_message"}
    assert InboundMessage.from_json(msg.to_json()) == msg  # travels through the stream intact


def test_every_bad_field_is_reported_at_once_in_chinese():
    errors = errors_of(fields(name="", phone="12345", region="", title="", content="短"))
    assert list(errors) == ["name", "phone", "region", "title", "content"]
    assert errors["phone"].startswith("手机号格式不正确")
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in msg) for msg in errors.values())


@pytest.mark.parametrize("phone", ["", "1383751234", "23837512345", "abc", "1" * 25])
def test_phone_is_required_and_validated(phone):
    assert "phone" in errors_of(fields(phone=phone))


@pytest.mark.parametrize("phone,expected", [
    ("13837512345", "13837512345"), ("+86 138-3751-2345", "13837512345"), ("138-3751-2345", "13837512345"),
    ("0375-2345678", "0375-2345678"), ("(0375)2345678", "03752345678"),
])
def test_mobile_and_landline_numbers_are_accepted(phone, expected):
    assert validate(fields(phone=phone)).phone == expected


def test_region_must_come_from_the_directory():
    assert errors_of(fields(region="beijing")) == {"region": "所选区域无效，请重新选择"}
    assert validate(fields(region="ruzhou")).region == "ruzhou"


def test_title_and_content_limits():
    assert "title" in errors_of(fields(title="标" * 51))
    assert "content" in errors_of(fields(content="字" * 5001))
    with pytest.raises(LeaveMessageInvalid):
        validate_leave_message(fields(content="字" * 101), (), region_codes=REGIONS, max_content_chars=100)


def test_at_most_three_images():
    images = [UploadedImage(f"{i}.png", "image/png", PNG) for i in range(4)]
    assert errors_of(images=images) == {"images": "最多上传 3 张图片（您选择了 4 张）"}
    assert len(validate(images=images[:3]).images) == 3


def test_every_allowed_image_type_passes():
    images = [UploadedImage("a.gif", "image/gif", GIF), UploadedImage("b.webp", "image/webp", WEBP),
              UploadedImage("c.jpg", "image/jpeg; charset=binary", JPEG)]
    assert len(validate(images=images).images) == 3


@pytest.mark.parametrize("image", [
    UploadedImage("doc.pdf", "application/pdf", b"%PDF-1.4 ..."),
    UploadedImage("run.exe", "application/octet-stream", b"MZ\x90\x00"),
    UploadedImage("fake.jpg", "image/jpeg", b"MZ\x90\x00 not a jpeg"),  # renamed program
    UploadedImage("shot.png", "image/png", JPEG),  # type and bytes disagree
    UploadedImage("x.svg", "image/svg+xml", b"<svg onload=alert(1)>"),
])
def test_wrong_image_types_are_refused(image):
    assert "images" in errors_of(images=[image])


def test_oversize_images_are_refused():
    big = UploadedImage("big.png", "image/png", PNG + b"\0" * MAX_IMAGE_BYTES)
    assert "超过 5 MB" in errors_of(images=[big])["images"]
    exact = UploadedImage("ok.png", "image/png", PNG + b"\0" * (MAX_IMAGE_BYTES - len(PNG)))
    assert len(validate(images=[exact]).images) == 1


def test_an_empty_file_input_is_no_image():
    assert validate(images=[UploadedImage("", "application/octet-stream", b"")]).images == ()


def test_the_message_id_dedupes_a_resubmission_but_not_a_different_message():
    sender = "v" + "s" * 32
    first = message_id(validate(), sender)
    assert message_id(validate(), sender) == first  # double tap: same id
    assert message_id(validate(fields(content="另一件事：小区门口垃圾没人清运。")), sender) != first
    assert message_id(validate(), "v" + "t" * 32) != first  # another browser
    assert first.startswith("lm-") and len(first) == 35


def test_a_missing_form_id_still_gives_a_message():
    values = fields()
    del values["form_id"]
    a, b = validate(values), validate(values)
    assert a.form_id != b.form_id  # not deduplicated, but never refused
