"""The Apache decoy against Debian's real apache2: same bytes for every corpus request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..conftest import Answers, DecoyHost, assert_same_answer, corpus_answers
from ..corpus import CORPUS
from ..realservers import APACHE_SERVER_NAME, RealServer
from ..wire import head_of


@pytest.fixture(scope="module")
def answers(real_apache: RealServer, decoy_host: DecoyHost) -> Iterator[Answers]:
    """Every corpus request answered by the real apache2 and by the decoy."""
    yield from corpus_answers(
        decoy_host,
        real_apache.port,
        "apache-2.4.71-debian",
        server_name=APACHE_SERVER_NAME,
        public_port=real_apache.port,
    )


@pytest.mark.parametrize("name", [name for name, _ in CORPUS])
def test_decoy_sends_the_bytes_real_apache_sends(answers: Answers, name: str) -> None:
    assert_same_answer(answers, name)


def test_error_pages_carry_the_address_line_with_host_and_port(
    answers: Answers, real_apache: RealServer
) -> None:
    _, decoy = answers
    _, _, body = head_of(decoy["get-missing"].data)
    assert body.endswith(
        f"<address>Apache/2.4.71 (Debian) Server at x Port {real_apache.port}</address>\n"
        "</body></html>\n".encode()
    )
    _, _, body = head_of(decoy["garbage"].data)
    assert f"Server at {APACHE_SERVER_NAME} Port".encode() in body


def test_allow_lists_the_same_methods_in_a_per_decoy_order(
    answers: Answers,
) -> None:
    _, decoy = answers
    _, headers, _ = head_of(decoy["options-root"].data)
    allow = dict(headers)["Allow"]
    assert sorted(allow.split(",")) == ["GET", "HEAD", "OPTIONS", "POST"]
