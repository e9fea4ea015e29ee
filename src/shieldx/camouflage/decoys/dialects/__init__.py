"""Server dialects, chosen by a template's ``dialect`` key."""

from __future__ import annotations

from ..templates import Template
from .apache import ApacheDialect
from .base import Dialect
from .iis import IisDialect
from .nginx import NginxDialect
from .tomcat import TomcatDialect

DIALECTS: dict[str, type[Dialect]] = {
    cls.name: cls for cls in (NginxDialect, ApacheDialect, IisDialect, TomcatDialect)
}


def build_dialect(template: Template, *, server_name: str, port: int) -> Dialect:
    """Instantiate the dialect a template names."""
    try:
        cls = DIALECTS[template.info.dialect]
    except KeyError:
        known = ", ".join(sorted(DIALECTS))
        raise ValueError(
            f"template {template.name}: unknown dialect {template.info.dialect!r} (known: {known})"
        ) from None
    return cls(template, server_name=server_name, port=port)


__all__ = ["DIALECTS", "Dialect", "build_dialect"]
