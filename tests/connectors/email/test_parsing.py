"""Parsing without a network: charsets, headers, HTML, quotes, signatures, numbers."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.email.decoding import decode_bytes, html_to_text
from connectors.email.headers import decode_header_value, find_mobile, find_ticket
from connectors.email.parsing import parse_email
from connectors.email.quoting import split_own_text, trim_for_nlu

from . import mails
from .conftest import HOSTNAME


def parse(raw: bytes, **kw):
    return parse_email(raw, hostname=HOSTNAME, **kw)


# --------------------------------------------------------------------------- charsets


def test_gb2312_label_on_gbk_text_keeps_every_character():
    p = parse(mails.gbk_mail("gb2312"))
    assert mails.SIMPLIFIED in p.text
    assert mails.GBK_ONLY in p.text
    assert p.sender == "lisi@163.com" and p.sender_name == "李四"
    assert p.subject == "下水道堵塞 镕"
    assert p.phone == "13937512345"
    assert p.charset == "gb18030"


def test_gbk_and_8bit_variants():
    for label in ("gbk", "GB2312", "x-gbk", "cp936", "gb18030"):
        for transfer in ("base64", "8bit"):
            p = parse(mails.gbk_mail(label, transfer=transfer))
            assert mails.GBK_ONLY in p.text, (label, transfer)


def test_big5_declared_missing_and_mislabelled():
    assert mails.TRADITIONAL in parse(mails.big5_mail("big5")).text
    assert parse(mails.big5_mail("big5")).sender_name == "陳大文"
    assert parse(mails.big5_mail("big5")).subject == "遺失錢包求助"
    assert mails.TRADITIONAL in parse(mails.big5_mail(None)).text
    # Big5 bytes labelled gb2312 decode "successfully" as GB18030 into junk; scoring wins.
    assert mails.TRADITIONAL in parse(mails.big5_mail("gb2312")).text


def test_wrong_and_missing_charset_labels():
    for label in (None, "us-ascii", "iso-8859-1", "windows-1252", "utf-8", "unknown-8bit", "x-no-such"):
        p = parse(mails.mislabelled_mail(label))
        assert mails.SIMPLIFIED in p.text, label
    # Real UTF-8 under a Latin-1 label, and real Latin-1 stays Latin-1.
    assert mails.SIMPLIFIED in parse(mails.mislabelled_mail("iso-8859-1", encoding="utf-8")).text
    latin = parse(mails.mislabelled_mail("iso-8859-1", text="Café crème, très élevé à côté", encoding="latin-1"))
    assert "Café crème, très élevé à côté" in latin.text


def test_decode_bytes_fallbacks_never_raise():
    assert decode_bytes(b"", None) == ("", "ascii")
    assert decode_bytes(b"plain", "no-such")[0] == "plain"
    text, used = decode_bytes("一个损坏的字节".encode("gbk") + b"\xff", None)
    assert "一个损坏的字节" in text and used == "gb18030"
    text, used = decode_bytes(bytes(range(128, 256)), None)
    assert used == "latin-1" and len(text) == 128


def test_raw_8bit_headers():
    p = parse(mails.raw_8bit_header_mail())
    assert p.subject == "噪音扰民投诉"
    assert p.sender_name == "赵六"
    assert "KTV" in p.text


def test_rfc2047_words_split_inside_a_character():
    p = parse(mails.split_encoded_word_mail())
    assert p.subject == "供暖不热，室温只有十二度"
    assert p.sender_name == "周七"


def test_decode_header_value_mixed():
    assert decode_header_value("Re: =?utf-8?Q?=E8=B7=AF=E7=81=AF?= PDS2026112700042") == "Re: 路灯 PDS2026112700042"
    assert decode_header_value("=?utf-8?b?5L2g5aW9?=") == "你好"
    assert decode_header_value("=?gb2312?B?broken!!?=") != ""
    assert decode_header_value(None) == ""


# --------------------------------------------------------------------------- structure


def test_html_only_mail_becomes_text():
    p = parse(mails.html_only_mail())
    assert p.html_only
    assert "湛河区公交站牌 损坏&倾斜" in p.text
    assert "请尽快维修" in p.text
    assert "alert" not in p.text and "color" not in p.text and "标题不要" not in p.text
    assert p.subject == "公交站牌"


def test_html_to_text_blocks_and_entities():
    assert html_to_text("<p>a</p><p>b&lt;c</p><ul><li>x</li><li>y</li></ul>") == "a\nb<c\nx\ny"


def test_multipart_alternative_prefers_plain():
    raw = (
        b"From: a@example.com\r\nMessage-ID: <x@y>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "纯文本版本的来信内容".encode() + b"\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>" + "网页版本".encode() + b"</p>\r\n--b--\r\n"
    )
    p = parse(raw)
    assert p.text == "纯文本版本的来信内容" and not p.html_only


def test_attachments_and_forwarded_mail_are_collected():
    raw = mails.attachment_mail([("现场.png", "image/png", mails.PNG), ("a.exe", "application/octet-stream", b"MZ..")])
    p = parse(raw)
    assert p.text == "附件是现场照片。"
    assert [a.filename for a in p.attachments] == ["现场.png", "a.exe"]
    assert p.attachments[0].content_type == "image/png" and p.attachments[0].data == mails.PNG
    too_many = parse(mails.attachment_mail([(f"{i}.png", "image/png", mails.PNG) for i in range(5)]), max_attachments=3)
    assert len(too_many.attachments) == 3 and len(too_many.rejected) == 2


# --------------------------------------------------------------------------- quotes and signatures

QUOTED_STYLES = [
    "市长您好，问题还没解决。\n\n在 2026年11月27日 星期四 10:00，12345市长信箱 <mayor@12345.pds.gov.cn> 写道：\n> 您的诉求已受理\n",
    "市长您好，问题还没解决。\n\n------------------ 原始邮件 ------------------\n发件人: \"12345\"\n发送时间: 2026年11月27日\n您的诉求已受理\n",
    "市长您好，问题还没解决。\n\n-----原始邮件-----\n发件人: mayor@12345.pds.gov.cn\n您的诉求已受理\n",
    "市长您好，问题还没解决。\n\nOn Thu, Nov 27, 2026 at 10:00 AM 12345 <mayor@12345.pds.gov.cn> wrote:\n> 您的诉求已受理\n",
    "市长您好，问题还没解决。\n\nOn Thu, Nov 27, 2026 at 10:00 AM 12345 <mayor@12345.pds.gov.cn>\nwrote:\n> 您的诉求已受理\n",
    "市长您好，问题还没解决。\n\n________________________________\n发件人: 12345\n发送时间: 2026年11月27日\n您的诉求已受理\n",
    "市长您好，问题还没解决。\n> 您的诉求已受理\n> 工单编号 PDS2026112700001\n",
    "市长您好，问题还没解决。\n\n-- \n王五\n手机 13700001111\n",
    "市长您好，问题还没解决。\n\n发自我的iPhone\n",
    "市长您好，问题还没解决。\n\nSent from my iPhone\n",
]


def test_quotes_and_signatures_are_trimmed_for_the_nlu():
    for body in QUOTED_STYLES:
        text, _ = trim_for_nlu(body, 5000)
        assert text == "市长您好，问题还没解决。", body


def test_signature_phone_is_kept_for_the_contact():
    text, own = split_own_text(QUOTED_STYLES[7])
    assert "13700001111" not in text
    assert find_mobile(own) == "13700001111"


def test_only_quoted_text_is_kept_rather_than_nothing():
    text, _ = trim_for_nlu("> 转发一位老人的求助：楼道灯坏了\n", 5000)
    assert "楼道灯坏了" in text


def test_text_is_capped():
    text, truncated = trim_for_nlu("很" * 6000, 5000)
    assert len(text) == 5000 and truncated


# --------------------------------------------------------------------------- numbers


def test_ticket_numbers():
    assert find_ticket("Re: 路灯 [PDS2026112700042]") == "PDS2026112700042"
    assert find_ticket("工单pds2026112700042") == "PDS2026112700042"
    assert find_ticket("XPDS2026112700042") is None
    assert find_ticket("PDS2026133100042") is None  # month 13
    assert find_ticket("PDS20261127000421234567") is None
    assert find_ticket(None) is None


def test_mobile_numbers():
    assert find_mobile("电话：138-1234-5678") == "13812345678"
    assert find_mobile("+86 13812345678") == "13812345678"
    assert find_mobile("座机 0375-1234567") is None
    assert find_mobile("12345678901234") is None
    assert find_mobile("工单 PDS2026112700042") is None


def test_missing_message_id_gets_a_stable_generated_one():
    raw = b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    a, b = parse(raw), parse(b"Received: from relay\r\n" + raw)
    assert a.message_id_generated and a.native_id == b.native_id
    assert a.native_id.endswith("@" + HOSTNAME)
    assert parse(raw.replace(b"body", b"other")).native_id != a.native_id


def test_threading_fields():
    raw = (
        b"From: a@example.com\r\nMessage-ID: <r2@example.com>\r\nIn-Reply-To: <r1@example.com>\r\n"
        b"References: <r0@example.com>\r\n <r1@example.com>\r\nSubject: Re: x\r\n\r\nbody\r\n"
    )
    p = parse(raw)
    assert p.thread_key == "r1@example.com" and p.references == ["r0@example.com", "r1@example.com"]
    # A reply to our own auto-reply: our Message-ID carries the ticket number.
    raw2 = (
        b"From: a@example.com\r\nMessage-ID: <r3@example.com>\r\n"
        b"In-Reply-To: <PDS2026112700042.0123456789abcdef@12345.pds.gov.cn>\r\nSubject: Re: x\r\n\r\nbody\r\n"
    )
    p2 = parse(raw2)
    assert p2.ticket_no == "PDS2026112700042" and p2.thread_key == "PDS2026112700042"
    # A ticket number in the subject alone.
    p3 = parse(b"From: a@example.com\r\nSubject: =?utf-8?B?5YWz5LqO?= PDS2026112700042\r\n\r\nbody\r\n")
    assert p3.ticket_no == "PDS2026112700042" and p3.thread_key == "PDS2026112700042"


# --------------------------------------------------------------------------- never raises


def _storable(value: str | None) -> bool:
    """What the stream, PostgreSQL and the templates take: encodable UTF-8, no NUL or other C0 controls."""
    if value is None:
        return True
    value.encode("utf-8")  # raises on a lone surrogate
    return not any(ord(c) < 32 and c not in "\n\t" for c in value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_any_bytes_parse_into_a_storable_bounded_message_with_a_stable_id(data):
    p = parse(data, max_text_chars=300)
    again = parse(data, max_text_chars=300)
    # A sending server's retry of the same bytes must dedupe: same id, same text.
    assert (again.native_id, again.text) == (p.native_id, p.text)
    assert p.native_id and len(p.native_id) <= 255
    assert len(p.text) <= 300 and p.truncated in (True, False)
    assert all(_storable(v) for v in (p.text, p.subject, p.sender_name, p.native_id, p.thread_key))
    if p.subject is not None:
        assert "\n" not in p.subject and p.subject == p.subject.strip()


HEADERISH = st.lists(
    st.tuples(
        st.sampled_from(["From", "Subject", "Content-Type", "Content-Transfer-Encoding", "Message-ID", "References",
                         "In-Reply-To", "Date", "Content-Disposition", "MIME-Version"]),
        st.one_of(
            st.text(max_size=80),
            st.sampled_from(['multipart/mixed; boundary="b"', "text/html; charset=gbk", "base64", "quoted-printable",
                             "=?gbk?B?1cXI/Q==?=", "attachment; filename*=gbk''%D5%C5", "<a@b>",
                             "text/plain; charset=big5"]),
        ),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HEADERISH, st.binary(max_size=800), st.booleans())
def test_mime_shaped_input_parses_into_storable_fields(headers, body, multipart):
    head = "".join(f"{k}: {v}\r\n" for k, v in headers).encode("utf-8", "surrogatepass")
    if multipart:
        body = b"--b\r\nContent-Type: text/plain; charset=gbk\r\n\r\n" + body + b"\r\n--b\r\n" + body
    p = parse(head + b"\r\n" + body)
    assert all(_storable(v) for v in (p.text, p.subject, p.sender_name, p.native_id, p.thread_key))
    assert all(_storable(r) and " " not in r for r in p.references)
    assert all(_storable(a.filename) and a.filename for a in p.attachments)
    # The thread key is one of the mail's own ids, or a ticket number it names.
    assert p.thread_key in (None, p.in_reply_to, p.ticket_no, *p.references)
    json.dumps([p.text, p.subject, p.sender_name, p.native_id, p.thread_key, p.references,
                [a.filename for a in p.attachments]], ensure_ascii=False).encode()


# Words a citizen might write: no quote markers, signature dashes or "发自我的…" lines, which the
# parser is meant to cut (those have their own example-based tests above).
WORDS = st.text(alphabet="市民反映路灯坏了小区停水噪音扰民请尽快处理谢谢卫东区新华区建设路中兴路垃圾清运供暖不热"
                         "镕堃喆ABCxyz0123456789，。！？：（）", min_size=1, max_size=40)
SUBJECTS = WORDS.map(str.strip).filter(bool)
BODIES = st.lists(WORDS, min_size=1, max_size=6).map("\n".join)
SENDER_NAMES = st.text(alphabet="张王李赵刘陈杨黄周吴先生女士", min_size=1, max_size=6)


def _squeeze(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=200, deadline=None)
@given(SUBJECTS, BODIES, SENDER_NAMES, st.sampled_from(["utf-8", "gb18030", "gbk", "big5"]),
       st.sampled_from(["base64", "quoted-printable", "8bit"]), st.booleans())
def test_a_written_mail_round_trips_through_parsing(subject, body, name, charset, cte, html):
    """Whatever charset and transfer encoding a citizen's client picks, the parser gives back
    the subject, the words, the sender and the Message-ID that went in."""
    from email import policy
    from email.headerregistry import Address
    from email.message import EmailMessage

    if charset == "big5":  # big5 lacks simplified characters: only what it can encode
        body = body.encode("big5", "ignore").decode("big5")
        if not body.strip():  # nothing left but line breaks: the parser would fall back to the subject
            body = "ABC"
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Address(display_name=name, username="citizen", domain="example.com")
    msg["To"] = "mayor@12345.pds.gov.cn"
    msg["Subject"] = subject
    msg["Message-ID"] = "<m1.abc@example.com>"
    if html:
        paragraphs = "".join(f"<p>{line}</p>" for line in body.split("\n"))
        msg.set_content(f"<html><body>{paragraphs}</body></html>", subtype="html", charset=charset, cte=cte)
    else:
        msg.set_content(body, charset=charset, cte=cte)
    p = parse(msg.as_bytes())
    assert p.subject == subject
    assert _squeeze(p.text) == _squeeze(body)
    assert (p.sender, p.sender_name) == ("citizen@example.com", name)
    assert p.native_id == p.message_id == "m1.abc@example.com" and not p.unparsed


@settings(max_examples=100, deadline=None)
@given(SUBJECTS, BODIES, st.sampled_from([None, "PDS2026112700042"]))
def test_our_own_reply_round_trips_and_threads_back_to_its_ticket(subject, body, ticket_no):
    """A mail the mailbox sends (outbound.build_message), parsed as the citizen's answer would be:
    the text survives, and the ticket number in our Message-ID threads the answer back."""
    from connectors.email import texts
    from connectors.email.outbound import OutboundMail, build_message

    mail = OutboundMail(to="citizen@example.com", subject=texts.reply_subject(subject, ticket_no), body=body,
                        ticket_no=ticket_no)
    msg, message_id = build_message(mail, from_address="mayor@12345.pds.gov.cn", from_name="平顶山12345",
                                    hostname=HOSTNAME, loop_token="mayor@12345.pds.gov.cn")
    sent = parse(msg.as_bytes())
    assert _squeeze(sent.text) == _squeeze(body) and sent.subject == mail.subject
    assert sent.native_id == message_id and sent.sender == "mayor@12345.pds.gov.cn"
    answer = parse(f"From: citizen@example.com\r\nSubject: Re\r\nIn-Reply-To: <{message_id}>\r\n\r\n好的\r\n"
                   .encode())
    assert answer.ticket_no == ticket_no
    assert answer.thread_key == (ticket_no or message_id)


def test_base64_payloads_of_every_length_survive_whole():
    import base64

    from connectors.email.mime_parts import lenient_base64

    for n in range(0, 40):
        data = bytes(range(256))[:n] * 3
        encoded = base64.encodebytes(data).decode()
        assert lenient_base64(encoded) == data, n
        assert lenient_base64(encoded.replace("=", "")) == data, n  # padding lost
        assert lenient_base64(encoded.replace("\n", " \r\n!")) == data, n  # stray characters
    # Two padded blocks glued together by a broken mailer.
    glued = base64.b64encode(b"ab").decode() + base64.b64encode(b"cde").decode()
    assert lenient_base64(glued) == b"abcde"
