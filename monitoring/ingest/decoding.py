"""Bytes to text: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030 / GBK.

GB18030 is a superset of GBK and GB2312, so one codec covers all three. The danger is
silent mojibake: UTF-8 Chinese usually also decodes as GB18030, so a file that is
partly UTF-8 and partly GBK (or UTF-8 with one corrupt byte) would decode "fine" as
GB18030. We refuse such payloads instead of storing garbage.
"""

from __future__ import annotations

import codecs
import re

from .errors import PayloadError

_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_XML_DECL_RE = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_CHINESE_LEGACY = {"gb2312", "gbk", "gb18030", "cp936", "x-gbk", "euc-cn", "hz-gb-2312"}
# Declarations that are usually a server default rather than a statement about the
# bytes (text/xml without charset means us-ascii, many servers say iso-8859-1); for
# Chinese content they are wrong far more often than right, so we detect instead.
_DEFAULT_DECLARATIONS = {"ascii", "latin_1", "iso8859-1", "cp1252", "iso-8859-1"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET_RE.search(content_type)
    return match.group(1) if match else None


def xml_declared_encoding(data: bytes) -> str | None:
    match = _XML_DECL_RE.match(data.lstrip()[:200])
    return match.group(1).decode("ascii") if match else None


def _codec_name(declared: str | None) -> str | None:
    if not declared:
        return None
    name = declared.strip().lower()
    if name in _CHINESE_LEGACY:
        return "gb18030"
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None  # unknown label: fall back to detection rather than fail
    return None if codec in _DEFAULT_DECLARATIONS or name in _DEFAULT_DECLARATIONS else codec


def decode_payload(data: bytes, *, declared: str | None = None) -> tuple[str, str]:
    """Return (text, encoding used). Raises PayloadError with the offending position."""
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            return _decode_strict(data, bom_codec, "its byte order mark"), bom_codec
    codec = _codec_name(declared)
    if codec is not None:
        return _decode_strict(data, codec, "declared"), codec
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        return _decode_legacy(data, utf8_error), "gb18030"


def _decode_strict(data: bytes, codec: str, why: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise PayloadError(f"payload is not valid {codec} ({why}): {_describe(data, exc)}") from exc


def _decode_legacy(data: bytes, utf8_error: UnicodeDecodeError) -> str:
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            "payload is neither UTF-8 nor GB18030/GBK: "
            f"as UTF-8, {_describe(data, utf8_error)}; as GB18030, {_describe(data, exc)}"
        ) from exc
    utf8_line = _first_utf8_cjk_line(data)
    if utf8_line is not None:
        bad_line = data.count(b"\n", 0, utf8_error.start) + 1
        raise PayloadError(
            f"payload mixes encodings: line {utf8_line} is UTF-8 but line {bad_line} is not "
            f"({_describe(data, utf8_error)}); convert the whole file to UTF-8"
        )
    return text


def _first_utf8_cjk_line(data: bytes) -> int | None:
    """First line that is valid UTF-8 with a 3-byte character (e.g. a Chinese one).

    GBK text almost never forms valid 3-byte UTF-8 sequences, so such a line in a file
    that is not UTF-8 as a whole means two encodings were mixed.
    """
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if any(ord(ch) >= 0x800 for ch in decoded):
            return number
    return None


def _describe(data: bytes, exc: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, exc.start) + 1
    return f"invalid byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line})"
