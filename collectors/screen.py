"""One platform item → a `RawMention`, or one sentence saying why it was left out. Shared by the collectors
so a malformed, deleted or excluded item is reported the same way everywhere and never stops a page."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from collectors.base import RawMention
from collectors.matcher import excluded

log = logging.getLogger(__name__)
# Any error raised while reading one item is that item's problem, never its page's: a payload shape we
# did not foresee (a list where a dict belongs, a number where text belongs) can raise almost anything.
PARSE_ERRORS = (Exception,)


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else {} (so `.get` chains never raise on a surprising shape)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else [] (a dict or a string where a list belongs counts as none)."""
    return value if isinstance(value, list) else []


def item_id(item: Any, id_key: str) -> str:
    """The item's id for a skip reason, whatever shape the item has."""
    value = item.get(id_key) if isinstance(item, dict) else None
    return str(value)[:80] if value not in (None, "") else "?"


def screen(platform: str, item: Any, parse: Callable[[Any], RawMention | None], exclusions: tuple[str, ...],
           *, id_key: str, gone: str = "deleted or empty") -> RawMention | str:
    """The parsed mention, or the reason to skip it (unreadable, `gone` when parse returns None, excluded)."""
    if not isinstance(item, dict):
        return f"{platform}:? unreadable (an item that is a {type(item).__name__}, not an object)"
    try:
        raw = parse(item)
    except PARSE_ERRORS as exc:
        return f"{platform}:{item_id(item, id_key)} unreadable ({type(exc).__name__}: {str(exc)[:200]})"
    if raw is None:
        return f"{platform}:{item_id(item, id_key)} {gone}"
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
