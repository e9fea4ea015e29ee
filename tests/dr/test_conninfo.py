"""A multi-host database.url becomes the libpq string the commit process connects with."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from shieldx.platform.conninfo import libpq_conninfo as conninfo


def test_multi_host_url_becomes_host_and_port_lists() -> None:
    url = make_url(
        "postgresql+psycopg://app:s3cr%25t@/ledger?host=10.0.0.1:5433&host=10.0.0.2:5434"
        "&target_session_attrs=read-write&connect_timeout=2"
    )
    assert conninfo_to_dict(conninfo(url)) == {
        "host": "10.0.0.1,10.0.0.2",
        "port": "5433,5434",
        "dbname": "ledger",
        "user": "app",
        "password": "s3cr%t",
        "target_session_attrs": "read-write",
        "connect_timeout": "2",
    }


def test_single_host_url_is_unchanged() -> None:
    url = make_url("postgresql+psycopg://app@db.example:6543/ledger")
    assert conninfo_to_dict(conninfo(url)) == {
        "host": "db.example",
        "port": "6543",
        "dbname": "ledger",
        "user": "app",
    }
