"""The nginx decoy against Debian's real nginx: same bytes for every corpus request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..conftest import Answers, DecoyHost, assert_same_answer, corpus_answers
from ..corpus import CORPUS
from ..realservers import RealServer


@pytest.fixture(scope="module")
def answers(real_nginx: RealServer, decoy_host: DecoyHost) -> Iterator[Answers]:
    """Every corpus request answered by the real nginx and by the decoy."""
    yield from corpus_answers(decoy_host, real_nginx.port, "nginx-1.22.1-debian")


@pytest.mark.parametrize("name", [name for name, _ in CORPUS])
def test_decoy_sends_the_bytes_real_nginx_sends(answers: Answers, name: str) -> None:
    assert_same_answer(answers, name)


def test_the_comparison_covers_answers_that_differ_between_requests(answers: Answers) -> None:
    real, _ = answers
    status_lines = {real[name].data.split(b"\r\n", 1)[0] for name, _ in CORPUS}
    assert len(status_lines) >= 10  # 200, 206, 304, 400, 404, 405, 412, 413, 414, 416, 501, 505...
    assert real["http09"].data.startswith(b"<!DOCTYPE html>")  # HTTP/0.9: body only
