"""Decoy HTTP/1.x listeners that answer byte for byte like the servers they mimic."""

from __future__ import annotations

from .exchanges import (
    DecoyExchange,
    DecoyStats,
    DynamicContentProvider,
    DynamicRequest,
    DynamicResponse,
    ExchangeObserver,
)
from .rendering import RenderedResponse, render
from .server import DecoyOptions, DecoyServer
from .templates import TemplateInfo, UnknownTemplateError, list_templates, load_template

__all__ = [
    "DecoyExchange",
    "DecoyOptions",
    "DecoyServer",
    "DecoyStats",
    "DynamicContentProvider",
    "DynamicRequest",
    "DynamicResponse",
    "ExchangeObserver",
    "RenderedResponse",
    "TemplateInfo",
    "UnknownTemplateError",
    "list_templates",
    "load_template",
    "render",
]
