"""SQLAlchemy PostgreSQL URLs as libpq connection strings (import-light: the credits commit
process and the DR probes connect with psycopg directly)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def libpq_conninfo(url: URL) -> str:
    """URL as a libpq connection string: `?host=a:1&host=b:2` becomes host=a,b port=1,2."""
    from psycopg.conninfo import make_conninfo

    params: dict[str, Any] = {}
    query = dict(url.query)
    hosts = query.pop("host", None)
    if hosts:
        pairs = [h.rpartition(":") for h in ((hosts,) if isinstance(hosts, str) else hosts)]
        params["host"] = ",".join(h if sep else port for h, sep, port in pairs)
        params["port"] = ",".join(port if sep else "5432" for _, sep, port in pairs)
    else:
        params["host"], params["port"] = url.host, url.port
    params.update(dbname=url.database, user=url.username, password=url.password)
    for key, value in query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})
