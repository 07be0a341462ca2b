"""Emoji and emoticons become words before tokenisation, in the one preprocessing function that training
and inference share."""
from __future__ import annotations

import emoji

from classify.artifact import ArtifactConfig
from classify.text import _EMOJI_HINT, emoji_to_words, preprocess


def test_emoji_become_their_names_and_runs_collapse() -> None:
    assert preprocess("Lost my bag again 😡😡😡") == "Lost my bag again enraged face"
    assert preprocess("💔") == "broken heart"
    assert preprocess("👍🏽🔥") == "thumbs up fire"  # skin tone dropped
    assert preprocess("I ❤️ NY") == "I red heart NY"


def test_emoticons_become_the_same_words_as_their_emoji() -> None:
    assert preprocess("great service :)") == preprocess("great service 🙂") == "great service slightly smiling face"
    assert preprocess("delayed again :( <3") == "delayed again frowning face red heart"
    assert preprocess("so sad :'( &lt;3") == "so sad crying face red heart"
    assert preprocess("xD") == "grinning squinting face"


def test_things_that_only_look_like_emoticons_are_left_alone() -> None:
    assert preprocess("gate opens at 10:30 :Product https://t.co/x:)") == "gate opens at 10:30 :Product http"
    assert preprocess("@Delta my bag https://t.co/x  lost") == "@user my bag http lost"


def test_the_cheap_pre_check_covers_every_emoji() -> None:
    # emoji_to_words skips the (slow) emoji scan when this class finds nothing: it must find every emoji
    assert all(_EMOJI_HINT.search(e) for e in emoji.EMOJI_DATA)
    assert emoji_to_words("plain ascii text") == "plain ascii text"
    assert emoji_to_words("café olé ¿qué?") == "café olé ¿qué?"


def test_models_that_read_emoji_themselves_can_keep_them() -> None:
    assert preprocess("bag lost 😡 :(", emoji_words=False) == "bag lost 😡 :("


def test_old_artifact_configs_keep_the_input_their_model_was_trained_on() -> None:
    # revision 2's config.json predates the key: it reads as False, so its model sees what it saw in training
    assert ArtifactConfig().emoji_words is False
