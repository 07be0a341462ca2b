"""One platform item → a `RawMention`, or one sentence saying why it was left out. Shared by the collectors
so a malformed, deleted or excluded item is reported the same way everywhere and never stops a page."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from collectors.base import RawMention
from collectors.matcher import excluded

log = logging.getLogger(__name__)
PARSE_ERRORS = (TypeError, ValueError, KeyError, AttributeError)


def screen(platform: str, item: Any, parse: Callable[[Any], RawMention | None], exclusions: tuple[str, ...],
           *, id_key: str, gone: str = "deleted or empty") -> RawMention | str:
    """The parsed mention, or the reason to skip it (unreadable, `gone` when parse returns None, excluded)."""
    try:
        raw = parse(item)
    except PARSE_ERRORS as exc:
        return f"{platform}:{item.get(id_key) if isinstance(item, dict) else '?'} unreadable ({exc})"
    if raw is None:
        return f"{platform}:{item.get(id_key)} {gone}"
    hit = excluded(raw.text, exclusions)
    if hit:
        return f"{platform}:{raw.external_id} contains the exclusion {hit!r}"
    return raw


def screen_all(platform: str, items: Iterable[Any], parse: Callable[[Any], RawMention | None],
               exclusions: tuple[str, ...], *, id_key: str, gone: str = "deleted or empty",
               ) -> tuple[list[RawMention], list[str]]:
    """`screen` over a page: (mentions, skip reasons), each reason logged."""
    mentions: list[RawMention] = []
    skipped: list[str] = []
    for item in items:
        result = screen(platform, item, parse, exclusions, id_key=id_key, gone=gone)
        if isinstance(result, str):
            skipped.append(result)
        else:
            mentions.append(result)
    for reason in skipped:
        log.info("%s: skipped %s", platform, reason)
    return mentions, skipped
