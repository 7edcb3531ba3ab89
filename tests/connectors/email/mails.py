"""Generated test mails in the encodings and shapes citizens' clients really produce."""

from __future__ import annotations

import base64
import uuid

MAILBOX = "mayor@12345.pds.gov.cn"

SIMPLIFIED = "市长您好：我是卫东区的居民，小区门口的下水道堵塞半个月了，污水横流，恳请有关部门尽快处理。"
# 镕 and 堃 are in GBK but not in GB2312: a "gb2312" label on GBK text must not lose them.
GBK_ONLY = "朱镕基路与堃华街交叉口的红绿灯不亮了。"
TRADITIONAL = "市長您好：我是台灣來的遊客，在平頂山旅遊時遺失了錢包，請問應該向哪個部門求助？"


def b64_word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def _mid() -> str:
    return f"<{uuid.uuid4().hex}@mail.example.cn>"


def raw(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers).encode("utf-8", "surrogateescape")
    return head + b"\r\n" + body


def gbk_mail(label: str = "gb2312", *, transfer: str = "base64") -> bytes:
    body = (SIMPLIFIED + "\r\n" + GBK_ONLY + "\r\n联系电话：13937512345\r\n").encode("gbk")
    if transfer == "base64":
        body = base64.encodebytes(body).replace(b"\n", b"\r\n")
    return raw(
        [
            ("From", f"{b64_word('李四', 'gb2312')} <LiSi@163.com>"),
            ("To", MAILBOX),
            ("Subject", b64_word("下水道堵塞 " + "镕", "gbk")),
            ("Message-ID", _mid()),
            ("MIME-Version", "1.0"),
            ("Content-Type", f"text/plain; charset={label}"),
            ("Content-Transfer-Encoding", transfer),
        ],
        body,
    )


def big5_mail(label: str | None = "big5") -> bytes:
    ctype = f"text/plain; charset={label}" if label else "text/plain"
    return raw(
        [
            ("From", f"{b64_word('陳大文', 'big5')} <chan@example.com.tw>"),
            ("To", MAILBOX),
            ("Subject", b64_word("遺失錢包求助", "big5")),
            ("Message-ID", _mid()),
            ("MIME-Version", "1.0"),
            ("Content-Type", ctype),
            ("Content-Transfer-Encoding", "8bit"),
        ],
        TRADITIONAL.encode("big5") + b"\r\n",
    )


def mislabelled_mail(label: str | None, text: str = SIMPLIFIED, encoding: str = "gbk") -> bytes:
    ctype = f"text/plain; charset={label}" if label else "text/plain"
    return raw(
        [
            ("From", "wang@example.com"),
            ("To", MAILBOX),
            ("Subject", "no charset"),
            ("Message-ID", _mid()),
            ("Content-Type", ctype),
            ("Content-Transfer-Encoding", "8bit"),
        ],
        text.encode(encoding) + b"\r\n",
    )


def raw_8bit_header_mail() -> bytes:
    # Old clients put GBK bytes straight into the Subject and From headers.
    head = (
        b"From: " + "赵六".encode("gbk") + b" <zhao@example.com>\r\n"
        b"To: " + MAILBOX.encode() + b"\r\n"
        b"Subject: " + "噪音扰民投诉".encode("gbk") + b"\r\n"
        b"Message-ID: " + _mid().encode() + b"\r\n"
        b"Content-Type: text/plain; charset=gbk\r\n\r\n"
    )
    return head + "楼下KTV每天营业到凌晨三点，噪音很大。".encode("gbk") + b"\r\n"


def html_only_mail() -> bytes:
    html = (
        "<html><head><title>标题不要</title><style>p {color: red}</style>"
        "<meta http-equiv='Content-Type' content='text/html; charset=gbk'></head>"
        "<body><script>alert('x')</script><p>市长您好：</p><div>湛河区公交站牌&nbsp;损坏&amp;倾斜，"
        "存在安全隐患。<br>请尽快维修。</div></body></html>"
    )
    return raw(
        [
            ("From", "html@example.com"),
            ("To", MAILBOX),
            ("Subject", "=?utf-8?Q?=E5=85=AC=E4=BA=A4=E7=AB=99=E7=89=8C?="),
            ("Message-ID", _mid()),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/html"),  # charset only in the <meta>
            ("Content-Transfer-Encoding", "8bit"),
        ],
        html.encode("gbk"),
    )


def split_encoded_word_mail() -> bytes:
    # A UTF-8 character split across two encoded words (a common mailer bug).
    data = "供暖不热，室温只有十二度".encode("utf-8")
    a, b = data[:7], data[7:]
    subject = (
        f"=?UTF-8?B?{base64.b64encode(a).decode()}?=\r\n =?UTF-8?B?{base64.b64encode(b).decode()}?="
    )
    return raw(
        [
            ("From", f'"{b64_word("周七", "utf-8")}" <zhou@example.com>'),
            ("To", MAILBOX),
            ("Subject", subject),
            ("Message-ID", _mid()),
            ("Content-Type", "text/plain; charset=utf-8"),
        ],
        "家里暖气不热。".encode("utf-8"),
    )


def broken_mime_mails() -> list[bytes]:
    mid = _mid
    return [
        # multipart without a boundary parameter
        raw([("From", "a@example.com"), ("Message-ID", mid()), ("Content-Type", "multipart/mixed")],
            "没有边界的多部分邮件".encode("utf-8")),
        # boundary declared but never closed, one part with broken base64
        raw([("From", "b@example.com"), ("Message-ID", mid()), ("Content-Type", 'multipart/mixed; boundary="XX"')],
            b"--XX\r\nContent-Type: text/plain; charset=gbk\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode("路面塌陷".encode("gbk"))[:-3] + b"!!*\r\n"),
        # unknown charset and unknown transfer encoding
        raw([("From", "c@example.com"), ("Message-ID", mid()),
             ("Content-Type", "text/plain; charset=x-no-such-charset"), ("Content-Transfer-Encoding", "x-weird")],
            "无法识别的字符集".encode("gbk")),
        # header lines without a colon, no blank line before the body
        b"From: d@example.com\r\nthis is not a header\r\n" + "正文紧跟在头部后面".encode("utf-8") + b"\r\n",
        # nothing but binary garbage
        bytes(range(256)) * 4,
        # only headers, no body
        b"From: e@example.com\r\nSubject: empty\r\n",
        # deeply nested multiparts
        b"From: f@example.com\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n"
        + b"".join(
            f"--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{i + 1}\"\r\n\r\n".encode() for i in range(60)
        )
        + "最深处".encode("utf-8") + b"\r\n",
        # RFC 2047 garbage in headers
        raw([("From", "=?gbk?B?!!!?= <g@example.com>"), ("Subject", "=?no-such?Q?=FF=FE?= =?utf-8?B?5L2g?="),
             ("Message-ID", "<   >"), ("Date", "not a date")], b"body\r\n"),
        # NUL bytes and a bare CR in the body
        raw([("From", "h@example.com"), ("Message-ID", mid()), ("Content-Type", "text/plain; charset=utf-8")],
            "含有\x00空字符\r的正文".encode("utf-8")),
    ]


def attachment_mail(parts: list[tuple[str, str, bytes]], body: str = "附件是现场照片。") -> bytes:
    boundary = "=_boundary_" + uuid.uuid4().hex
    chunks = [
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n".encode()
        + base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n")
    ]
    for filename, ctype, data in parts:
        chunks.append(
            f"--{boundary}\r\nContent-Type: {ctype}; name=\"{filename}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{filename}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n".encode("utf-8")
            + base64.encodebytes(data).replace(b"\n", b"\r\n")
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return raw(
        [
            ("From", "photo@example.com"),
            ("To", MAILBOX),
            ("Subject", "现场照片"),
            ("Message-ID", _mid()),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
        ],
        b"".join(chunks),
    )


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
