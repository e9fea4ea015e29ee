"""A reader for the protobuf text format subset that cel-spec's conformance files use.

Why not protobuf's text_format: it needs the compiled cel-spec descriptors (checked.proto,
value.proto, simple.proto and their google/api and cel imports), i.e. protoc or grpcio-tools
at build time plus generated modules to keep in sync; the files only use messages, scalars,
enums, comments and `[type.url] { ... }` Any bodies, which this reader turns into plain
dicts (every field a list of values, as a field may repeat) in ~80 lines.
"""

from __future__ import annotations

import re
from typing import Any

Message = dict[str, list[Any]]

_TOKEN = re.compile(
    r"""\s+|\#[^\n]*
    |(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<ext>\[[A-Za-z][\w./]*\])
    |(?P<punct>[{}:<>\[\],;])
    |(?P<word>[-+]?[A-Za-z0-9_.+-]+)""",
    re.VERBOSE,
)
_OCTAL = re.compile(r"\\([0-7]{1,3})")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"textproto: cannot read {text[pos : pos + 30]!r}")
        pos = m.end()
        if m.lastgroup:
            out.append((m.lastgroup, m.group(m.lastgroup)))
    return out


def _unquote(token: str) -> bytes:
    """Decode a text-format string literal to bytes (escapes are byte-oriented)."""
    body = token[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = body[i + 1]
        if n in "01234567":
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(int(body[i + 1 : j], 8) & 0xFF)
            i = j
        elif n in "xX":
            j = i + 2
            while j < len(body) and j < i + 4 and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 2 : j], 16))
            i = j
        elif n in "uU":
            width = 4 if n == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + width], 16)).encode()
            i += 2 + width
        else:
            out += _SIMPLE.get(n, n).encode()
            i += 2
    return bytes(out)


class _Reader:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def message(self, close: str | None) -> Message:
        msg: Message = {}
        while True:
            tok = self.peek()
            if tok is None or tok[1] == close:
                if close is not None:
                    self.take()
                return msg
            kind, name = self.take()
            if kind == "punct" and name in ",;":
                continue
            if self.peek() == ("punct", ":"):
                self.take()
            if self.peek() == ("punct", "["):
                self.take()
                while self.peek() != ("punct", "]"):
                    msg.setdefault(name, []).append(self.value())
                    if self.peek() == ("punct", ","):
                        self.take()
                self.take()
            else:
                msg.setdefault(name, []).append(self.value())

    def value(self) -> Any:
        kind, tok = self.take()
        if tok in ("{", "<"):
            return self.message("}" if tok == "{" else ">")
        if kind == "str":
            data = _unquote(tok)
            while self.peek() and self.peek()[0] == "str":  # type: ignore[index]
                data += _unquote(self.take()[1])  # adjacent literals concatenate
            return data
        return tok  # numbers, enums and bools stay words: the caller knows the field


def parse_textproto(text: str) -> Message:
    """Parse a whole text-format file into nested dicts of field -> list of values."""
    return _Reader(text).message(None)
