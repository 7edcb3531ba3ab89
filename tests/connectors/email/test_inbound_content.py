"""What arrives in the intake stream for real-world mails sent over real SMTP sessions."""

from __future__ import annotations

import smtplib

import pytest

from . import mails
from .conftest import make_mail


async def _one(box, intake, raw: bytes):
    before = await intake.count()
    code, reply = await box.send(raw)
    assert code == 250, reply
    messages = await intake.messages()
    assert len(messages) == before + 1
    return messages[-1]


async def test_chinese_charsets_over_smtp(start_mailbox, intake):
    box = await start_mailbox()
    msg = await _one(box, intake, mails.gbk_mail("gb2312"))
    assert mails.GBK_ONLY in msg.text and msg.subject == "下水道堵塞 镕"
    assert msg.contact.name == "李四" and msg.contact.phone == "13937512345"
    assert msg.sender_id == "lisi@163.com"

    msg = await _one(box, intake, mails.big5_mail("big5"))
    assert mails.TRADITIONAL in msg.text and msg.contact.name == "陳大文"
    msg = await _one(box, intake, mails.big5_mail(None))
    assert mails.TRADITIONAL in msg.text
    msg = await _one(box, intake, mails.mislabelled_mail("iso-8859-1"))
    assert mails.SIMPLIFIED in msg.text
    msg = await _one(box, intake, mails.raw_8bit_header_mail())
    assert msg.subject == "噪音扰民投诉"
    msg = await _one(box, intake, mails.split_encoded_word_mail())
    assert msg.subject == "供暖不热，室温只有十二度"


async def test_html_only_mail_over_smtp(start_mailbox, intake):
    box = await start_mailbox()
    msg = await _one(box, intake, mails.html_only_mail())
    assert msg.metadata["html_only"] is True
    assert "湛河区公交站牌 损坏&倾斜" in msg.text and "alert" not in msg.text


async def test_broken_mime_gets_250_with_text_kept(start_mailbox, intake):
    box = await start_mailbox()
    for raw in mails.broken_mime_mails():
        msg = await _one(box, intake, raw)
        assert "\x00" not in msg.text
        assert msg.sender_id
        assert any(a.kind == "original_email" for a in msg.attachments)
    texts = [m.text for m in await intake.messages()]
    assert any("没有边界的多部分邮件" in t for t in texts)
    assert any("无法识别的字符集" in t for t in texts)
    assert any("正文紧跟在头部后面" in t for t in texts)
    assert any("含有空字符" in t for t in texts)


async def test_threading_headers_become_the_thread_key(start_mailbox, intake):
    box = await start_mailbox()
    first = await _one(box, intake, make_mail(message_id="<first@example.com>"))
    reply = make_mail(
        "补充一下：路灯还是没修。\n\n在 2026年11月27日，12345 写道：\n> 您的诉求已受理\n",
        subject="Re: 路灯坏了",
        message_id="<second@example.com>",
        extra_headers={"In-Reply-To": "<first@example.com>", "References": "<zero@example.com> <first@example.com>"},
    )
    msg = await _one(box, intake, reply)
    assert msg.thread_key == first.native_id == "first@example.com"
    assert msg.metadata["references"] == ["zero@example.com", "first@example.com"]
    assert msg.text == "补充一下：路灯还是没修。"
    # References only (no In-Reply-To): the last reference.
    msg = await _one(box, intake, make_mail(extra_headers={"References": "<a@x> <b@x>"}))
    assert msg.thread_key == "b@x"


async def test_ticket_number_in_subject(start_mailbox, intake):
    box = await start_mailbox()
    msg = await _one(box, intake, make_mail("又坏了。", subject="回复：关于工单 PDS2026112700042 的补充"))
    assert msg.metadata["ticket_no"] == "PDS2026112700042"
    assert msg.thread_key == "PDS2026112700042"
    # Named only in the body: mentioned, not joined.
    msg = await _one(box, intake, make_mail("我之前的工单PDS2026112000007还没人处理。", subject="新问题"))
    assert "ticket_no" not in msg.metadata and msg.metadata["mentioned_tickets"] == ["PDS2026112000007"]


async def test_attachments_stored_and_rejections_noted(start_mailbox, intake):
    box = await start_mailbox(attachment_max_bytes=4096)
    big_png = mails.PNG + b"\x00" * 5000
    fake_png = b"MZ\x90\x00 this is an executable"
    raw = mails.attachment_mail(
        [
            ("现场照片.png", "image/png", mails.PNG),
            ("情况说明.pdf", "application/octet-stream", b"%PDF-1.4 fake pdf"),
            ("virus.exe", "application/x-msdownload", b"MZ\x90\x00"),
            ("photo.png", "image/png", fake_png),
            ("huge.png", "image/png", big_png),
        ]
    )
    msg = await _one(box, intake, raw)
    kinds = sorted((a.kind, a.filename, a.content_type) for a in msg.attachments)
    assert kinds == [
        ("file", "情况说明.pdf", "application/pdf"),
        ("image", "现场照片.png", "image/png"),
        ("original_email", "original.eml", "message/rfc822"),
    ]
    png = next(a for a in msg.attachments if a.kind == "image")
    assert box.store.read_bytes(png.storage_key) == mails.PNG and png.size == len(mails.PNG)
    rejected = {r["filename"]: r["reason"] for r in msg.metadata["rejected_attachments"]}
    assert set(rejected) == {"virus.exe", "photo.png", "huge.png"}
    assert "不支持的文件类型" in rejected["virus.exe"]
    assert "不符" in rejected["photo.png"]
    assert "过大" in rejected["huge.png"]


async def test_text_is_capped_for_the_nlu(start_mailbox, intake):
    box = await start_mailbox(max_text_chars=200)
    msg = await _one(box, intake, make_mail("很长的来信。" * 100))
    assert len(msg.text) == 200 and msg.metadata["truncated"] is True


async def test_subject_only_mail_uses_the_subject_as_text(start_mailbox, intake):
    box = await start_mailbox()
    msg = await _one(box, intake, make_mail("", subject="建设路井盖丢失，很危险"))
    assert msg.text == "建设路井盖丢失，很危险"


async def test_starttls_when_a_certificate_is_configured(start_mailbox, intake, tls_files):
    cert, key = tls_files
    box = await start_mailbox(tls_cert=str(cert), tls_key=str(key))
    code, reply = await box.send(make_mail(), starttls=True)
    assert code == 250, reply
    (msg,) = await intake.messages()
    assert msg.metadata["tls"] is True
    original = next(a for a in msg.attachments if a.kind == "original_email")
    assert b"with ESMTPS" in box.store.read_bytes(original.storage_key)[:400]
    # Plain sessions still work (STARTTLS is offered, not required).
    code, _ = await box.send(make_mail())
    assert code == 250


async def test_starttls_not_offered_without_certificate(start_mailbox):
    box = await start_mailbox()
    with pytest.raises(smtplib.SMTPNotSupportedError):
        await box.send(make_mail(), starttls=True)


async def test_large_mail_is_parsed_off_the_loop_and_kept_whole(start_mailbox, intake):
    box = await start_mailbox()
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 8192  # 2 MB: parsed in a worker thread
    msg = await _one(box, intake, mails.attachment_mail([("材料.pdf", "application/pdf", pdf)], body="请看附件材料。"))
    assert msg.text == "请看附件材料。"
    (att,) = [a for a in msg.attachments if a.kind == "file"]
    assert att.size == len(pdf) and box.store.read_bytes(att.storage_key) == pdf
