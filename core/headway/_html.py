"""A small HTML builder that escapes by default: the report writes markup only
through it.

Every ``str`` handed to :func:`element` (as a child or an attribute value) is
escaped, after the secret redactor has masked any registered secret in it;
only :class:`Markup`, which this module and its callers produce from
elements, passes through as it is. So a title from a source or a name from
the configuration can never become markup, whatever it holds.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .secrets import redact

#: Elements that have no end tag in HTML.
_VOID = frozenset({"br", "col", "hr", "img", "input", "link", "meta", "wbr"})

#: Link schemes the report turns into links; anything else (``javascript:``,
#: ``data:``) is shown as text.
SAFE_SCHEMES = frozenset({"http", "https"})


class Markup(str):
    """Text that is already HTML: :func:`element` passes it through."""

    __slots__ = ()


def escape(value: object) -> Markup:
    """``value`` as HTML text: secrets masked, ``<>&"'`` escaped."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(redact(str(value)), quote=True))


def concat(*children: Any) -> Markup:
    """Children joined into one piece of markup, each escaped as needed."""
    return Markup("".join(_render(children)))


def element(tag: str, /, *children: Any, **attributes: Any) -> Markup:
    """One element with its attributes and children.

    Attribute names lose a trailing ``_`` (``class_``) and turn ``_`` into
    ``-`` (``data_value``, ``stroke_width``); ``None`` and ``False`` leave an
    attribute out, ``True`` writes it bare. Children may be strings
    (escaped), :class:`Markup`, numbers, ``None`` (skipped) or iterables of
    these.
    """
    parts = [f"<{tag}"]
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        attribute = key.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(f" {attribute}")
        else:
            parts.append(f' {attribute}="{escape(value)}"')
    parts.append(">")
    if tag in _VOID:
        return Markup("".join(parts))
    parts.extend(_render(children))
    parts.append(f"</{tag}>")
    return Markup("".join(parts))


def _render(children: Iterable[Any]) -> Iterable[str]:
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, str):
            yield escape(child)
        elif isinstance(child, int | float):
            yield str(child)
        elif isinstance(child, Iterable):
            yield from _render(child)
        else:
            yield escape(child)


def safe_url(url: object) -> str | None:
    """``url`` when it is an ``http`` or ``https`` link, else ``None``."""
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in SAFE_SCHEMES else None


def link(url: object, /, *children: Any, **attributes: Any) -> Markup:
    """A link to ``url`` when it is safe to follow, else the children alone."""
    target = safe_url(url)
    if target is None:
        return element("span", *children, **attributes)
    return element("a", *children, href=target, rel="noopener noreferrer", **attributes)
