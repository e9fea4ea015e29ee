"""Reading Content-Length and chunked bodies with bounded memory."""

from __future__ import annotations

import pytest

from shieldx.camouflage.decoys.bodies import BodyReader
from shieldx.camouflage.decoys.exchanges import MAX_RECORDED_BODY
from shieldx.camouflage.decoys.messages import Rejection


def test_a_length_body_is_consumed_exactly_and_leaves_the_next_request() -> None:
    reader = BodyReader(5)
    buf = bytearray(b"hel")
    assert reader.feed(buf) == 3 and not reader.done
    buf = bytearray(b"loGET / HTTP/1.1")
    assert reader.feed(buf) == 2 and reader.done
    assert (reader.kept, reader.total) == (b"hello", 5)


def test_a_chunked_body_is_decoded_across_splits() -> None:
    data = b"3;ext=1\r\nabc\r\n10\r\n" + b"x" * 16 + b"\r\n0\r\nTrailer: y\r\n\r\nNEXT"
    reader = BodyReader(None)
    used = 0
    for i in range(0, len(data), 3):
        buf = bytearray(data[used : i + 3])
        used += reader.feed(buf)
        if reader.done:
            break
    assert reader.done and data[used:] == b"NEXT"
    assert reader.kept == b"abc" + b"x" * 16 and reader.total == 19


def test_only_the_first_bytes_are_kept() -> None:
    reader = BodyReader(None)
    chunk = b"%x\r\n" % 100_000 + b"z" * 100_000 + b"\r\n0\r\n\r\n"
    assert reader.feed(bytearray(chunk)) == len(chunk)
    assert len(reader.kept) == MAX_RECORDED_BODY and reader.total == 100_000


@pytest.mark.parametrize("bad", [b"zz\r\n", b"\r\n", b"3\r\nabcX\r\n", b"1" * 20 + b"\r\n"])
def test_malformed_chunks_are_a_400(bad: bytes) -> None:
    with pytest.raises(Rejection) as caught:
        BodyReader(None).feed(bytearray(bad))
    assert caught.value.status == 400


def test_an_endless_chunk_size_line_is_refused() -> None:
    with pytest.raises(Rejection):
        BodyReader(None).feed(bytearray(b"1" * 5000))


def test_a_limit_turns_an_oversized_body_into_413() -> None:
    reader = BodyReader(None, limit=10)
    with pytest.raises(Rejection) as caught:
        reader.feed(bytearray(b"20\r\n" + b"a" * 32 + b"\r\n"))
    assert caught.value.status == 413
