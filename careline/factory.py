"""Builds sources, the classifier and responders from settings: the one place platform clients are made.

Everything else receives these objects, so tests hand in clients pointed at recorded HTTP.
"""
from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache

from careline.errors import ConfigError
from careline.settings import Settings
from classify.base import Classifier, ModelError
from collectors.base import Source

log = logging.getLogger(__name__)


def build_source(name: str, settings: Settings, demo_anchor: datetime | None = None) -> Source:
    if name == "demo":
        from collectors.demo import DemoSource

        return DemoSource(anchor=demo_anchor)
    try:
        if name == "x":
            from collectors.x import XSource

            return XSource.from_settings(settings)
        if name == "reddit":
            from collectors.reddit import RedditSource

            return RedditSource.from_settings(settings)
        if name == "bluesky":
            from collectors.bluesky import BlueskySource

            return BlueskySource.from_settings(settings)
        if name == "mastodon":
            from collectors.mastodon import MastodonSource

            return MastodonSource.from_settings(settings)
        if name == "hackernews":
            from collectors.hackernews import HackerNewsSource

            return HackerNewsSource.from_settings(settings)
    except ImportError as exc:
        raise ConfigError(f"The {name} collector is not available in this install ({exc}).") from exc
    raise ConfigError(f"Unknown source {name!r}.")


@lru_cache(maxsize=4)
def _cached_classifier(name: str, label_map: tuple[tuple[str, str], ...]) -> Classifier:
    from classify import load_classifier

    return load_classifier(name, label_map=dict(label_map) or None)


def build_classifier(settings: Settings) -> Classifier:
    try:
        return _cached_classifier(settings.model, tuple(sorted(settings.model_label_map.items())))
    except ModelError as exc:
        raise ConfigError(f"Cannot load the classifier {settings.model!r}: {exc}") from exc
