"""Decoy templates: the data files under ``shieldx/camouflage/templates/<name>/``.

A template directory holds ``template.yaml`` (metadata, which dialect speaks it, the Server token,
limits, timeouts, status reasons, error pages, the files it serves) and the raw bodies it names.
Templates are read only from the installed package, by name, never from a path a caller supplies.
Pages with variable parts use ``${slot}`` placeholders (PageTemplate): split once at load time,
filled by plain joining, never evaluated; callers escape what came from a request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml

_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{0,63}$")
_ASSET = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*(/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*$")


class UnknownTemplateError(KeyError):
    """Raised for a template name that is not bundled."""

    def __init__(self, name: str) -> None:
        known = ", ".join(info.name for info in list_templates())
        super().__init__(f"unknown decoy template {name!r}; bundled templates are: {known}")
        self.name = name


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    """What the management API lists about a template."""

    name: str
    server: str
    version: str
    description: str
    dialect: str


@dataclass(frozen=True, slots=True)
class StaticFile:
    """A file a template serves: its body, type and modification time."""

    path: str
    body: bytes
    content_type: str
    mtime: float
    attributes: Mapping[str, Any]


class Template:
    """A loaded template: metadata, its configuration mapping and its bundled assets."""

    def __init__(self, root: Traversable, config: Mapping[str, Any]) -> None:
        self._root = root
        self.config = config
        self.info = TemplateInfo(
            name=str(config["name"]),
            server=str(config["server"]),
            version=str(config["version"]),
            description=" ".join(str(config.get("description", "")).split()),
            dialect=str(config["dialect"]),
        )
        self.files = {
            path: StaticFile(
                path=path,
                body=self.asset(str(spec["source"])),
                content_type=str(spec["type"]),
                mtime=float(spec.get("mtime", 0)),
                attributes=dict(spec),
            )
            for path, spec in dict(config.get("files") or {}).items()
        }

    @property
    def name(self) -> str:
        """The template's name."""
        return self.info.name

    def asset(self, relpath: str) -> bytes:
        """Return the bytes of a file bundled with this template."""
        if not _ASSET.match(relpath) or ".." in relpath.split("/"):
            raise ValueError(f"template asset names are relative paths without '..': {relpath!r}")
        node = self._root
        for part in relpath.split("/"):
            node = node / part
        return node.read_bytes()

    def installed(self, seed: bytes, anchor: float) -> Template:
        """A copy whose files marked ``installed`` carry this install's own mtimes.

        A file copied at install time (a default page) is dated between the packaged file's
        date and the install's ANCHOR; SEED (per install and decoy) picks the moment, so
        Last-Modified and ETag differ between installs and stay fixed within one.
        """
        copy = Template(self._root, self.config)
        for path, found in self.files.items():
            if not found.attributes.get("installed") or anchor <= found.mtime + 86_400:
                continue
            digest = hmac.new(seed, path.encode("utf-8"), hashlib.sha256).digest()
            span = int(anchor - found.mtime - 86_400)
            offset = int.from_bytes(digest[:8], "big") % span
            usec = int.from_bytes(digest[8:12], "big") % 1_000_000
            mtime = found.mtime + 86_400 + offset + usec / 1_000_000
            attributes = dict(found.attributes)
            attributes["filetime"] = int((mtime + 11644473600) * 10_000_000)
            copy.files[path] = replace(found, mtime=mtime, attributes=attributes)
        return copy

    def section(self, key: str) -> dict[str, Any]:
        """Return a mapping section of the configuration (empty if absent)."""
        value = self.config.get(key) or {}
        if not isinstance(value, dict):
            raise ValueError(f"template {self.name}: {key} must be a mapping")
        return value


def _templates_root() -> Traversable:
    return resources.files("shieldx.camouflage").joinpath("templates")


@cache
def _template_dirs() -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}
    for entry in _templates_root().iterdir():
        if entry.is_dir() and entry.joinpath("template.yaml").is_file():
            found[entry.name] = entry
    return found


@cache
def load_template(name: str) -> Template:
    """Load a bundled template by name (cached)."""
    if not _NAME.match(name) or name not in _template_dirs():
        raise UnknownTemplateError(name)
    root = _template_dirs()[name]
    config = yaml.safe_load(root.joinpath("template.yaml").read_text(encoding="utf-8"))
    if not isinstance(config, dict) or config.get("name") != name:
        raise ValueError(f"template {name}: template.yaml must be a mapping with name: {name}")
    return Template(root, config)


def list_templates() -> list[TemplateInfo]:
    """Return the metadata of every bundled template, sorted by name."""
    return [load_template(name).info for name in sorted(_template_dirs())]


_SLOT = re.compile(r"\$\{([a-z_]+)\}")


class PageTemplate:
    """A page text with ``${slot}`` placeholders, encoded to bytes when rendered."""

    __slots__ = ("_parts", "slots")

    def __init__(self, text: str, allowed: Iterable[str]) -> None:
        pieces = _SLOT.split(text)
        self._parts: list[str] = pieces
        self.slots = frozenset(pieces[1::2])
        unknown = self.slots - set(allowed)
        if unknown:
            raise ValueError(f"page template uses unknown slots {sorted(unknown)}: {text[:60]!r}")

    def render(self, values: Mapping[str, str], encoding: str = "latin-1") -> bytes:
        """Fill the slots and encode."""
        parts = self._parts
        out = [part if i % 2 == 0 else values.get(part, "") for i, part in enumerate(parts)]
        return "".join(out).encode(encoding, "replace")
