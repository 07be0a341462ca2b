"""Honest labels: languages without a validated score are flagged for a person (with the reason), a
per-language setting sends only those languages to another local model, and the file mode's JSONL
carries the same needs_review / review_reason the database stores."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from classify import load_classifier
from classify.base import LOW_CONFIDENCE, Labels, ModelError, is_language_reason, language_reason, review
from classify.routed import LanguageRouted
from tests.classify.test_hf_swap import _tiny_model

SPANISH = "¿Acme Air perdió mi maleta en Madrid? Llevo dos días esperando y nadie responde 😡"
ARABIC = "أكمي للطيران فقدت حقيبتي في المطار ولم يرد أحد على رسائلي منذ ثلاثة أيام"
ENGLISH = "Acme Air lost my bag and nobody at the desk can tell me where it is."
EMOJI = "😡😡😡💔"
GERMAN = "Acme Air hat meinen Flug nach Berlin gestrichen und keine Alternative angeboten. Wer erstattet mir das Hotel?"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("tiny-es"), {0: "NEG", 1: "NEU", 2: "POS"})


def test_spanish_and_arabic_are_flagged_with_the_reason_and_still_labelled(int8) -> None:  # type: ignore[no-untyped-def]
    es, ar, en, emoji = int8.classify([SPANISH, ARABIC, ENGLISH, EMOJI])
    # Spanish with the n-gram fusion: 55.8 fp32 but 54.7 int8 on validation, short of 55 in one build
    assert (es.language, es.needs_review, es.review_reason) == ("es", True, "language not supported by the model (es)")
    assert es.sentiment == "negative" and es.intent
    assert abs(sum(es.sentiment_scores.values()) - 1) < 1e-3 and es.embedding is not None
    assert (ar.language, ar.needs_review, ar.review_reason) == ("ar", True, "language not supported by the model (ar)")
    assert not en.needs_review and en.review_reason is None and en.language == "en"
    # emoji-only: no language evidence, so labelled by the model and not flagged for language; the emoji
    # reach the model as words ("enraged face ... broken heart"), so it is no longer neutral
    assert emoji.language is None and (emoji.sentiment, emoji.intent) == ("negative", "complaint")
    assert not is_language_reason(emoji.review_reason)


def test_a_validated_language_is_labelled_without_the_flag(int8) -> None:  # type: ignore[no-untyped-def]
    (de,) = int8.classify([GERMAN])
    assert (de.language, de.needs_review, de.review_reason, de.sentiment) == ("de", False, None, "negative")


def test_validated_languages_live_in_the_artifact_config(int8) -> None:  # type: ignore[no-untyped-def]
    # revision 3 + ml1: de/fr/it/pt reached a validation macro-F1 >= 0.55 in fp32 and int8 (MODEL_CARD.md);
    # Spanish did not in int8; Arabic and Hindi stay flagged (their intents come from an English vocabulary)
    assert int8.config.validated_languages == ["en", "de", "fr", "it", "pt"]
    assert language_reason("en-GB", ["en"]) is None
    assert language_reason("pt", ["en"]) == "language not supported by the model (pt)"
    assert language_reason(None, ["en"]) is None  # too little text to judge: not flagged
    assert language_reason("es", None) is None  # a classifier that makes no claim flags nothing


def test_review_puts_language_before_low_confidence() -> None:
    sure = Labels("negative", "complaint", {"negative": 0.9}, {"complaint": 0.9})
    doubtful = Labels("neutral", "other", {"neutral": 0.4}, {"other": 0.9})
    foreign = Labels("neutral", "other", {"neutral": 0.4}, {"other": 0.9}, "de", needs_review=True,
                     review_reason="language not supported by the model (de)")
    assert review(sure, 0.55) == (False, None)
    assert review(doubtful, 0.55) == (True, LOW_CONFIDENCE)
    assert review(foreign, 0.55) == (True, "language not supported by the model (de)")


def test_language_mapping_sends_only_mapped_languages_to_the_other_model(int8, tiny: Path) -> None:  # type: ignore[no-untyped-def]
    other = load_classifier(str(tiny), label_map={"NEG": "negative", "NEU": "neutral", "POS": "positive"})
    routed = LanguageRouted(int8, {"es": other})
    assert routed.version == f"{int8.version}+es=hf:{tiny}"
    es, ar, en, emoji = routed.classify([SPANISH, ARABIC, ENGLISH, EMOJI])
    assert es.embedding is None and es.language == "es"  # the HF swap has no embedding: it went there
    assert not es.needs_review and es.review_reason is None  # the team chose that model for Spanish
    assert en.embedding is not None and not en.needs_review  # English stayed with careline-minilm
    assert ar.embedding is not None and ar.review_reason == "language not supported by the model (ar)"
    assert emoji.embedding is not None  # no language: the main model
    assert routed.classify([]) == []


def test_load_classifier_builds_the_mapping_and_names_a_bad_entry(model_cache: Path, tiny: Path) -> None:
    clf = load_classifier("careline-minilm", cache_dir=model_cache, language_models={"es": str(tiny)},
                          language_label_map={"NEG": "negative", "NEU": "neutral", "POS": "positive"})
    assert isinstance(clf, LanguageRouted) and set(clf.by_language) == {"es"}
    with pytest.raises(ModelError, match=r"CARELINE_LANGUAGE_MODELS\['de'\]"):
        load_classifier("lexicon", language_models={"de": str(tiny / "missing")})


def test_jsonl_lines_carry_needs_review_and_reason(tmp_path: Path, model_cache: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from careline.commands import classify_cmds as cmds

    monkeypatch.setenv("CARELINE_MODEL_CACHE", str(model_cache))
    src = tmp_path / "posts.jsonl"
    src.write_text("".join(json.dumps({"id": n, "text": t}) + "\n"
                           for n, t in enumerate([SPANISH, ARABIC, ENGLISH, EMOJI])), encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    assert cmds.classify_file_cmd(input=src, output=out, model="careline-minilm", low_confidence=0.0) == 4
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["needs_review"], r["review_reason"]) for r in rows] == [
        (True, "language not supported by the model (es)"), (True, "language not supported by the model (ar)"),
        (False, None), (False, None)]
    assert all(r["sentiment"] and r["intent"] for r in rows)


def test_the_demo_has_other_languages_that_show_the_flag(int8) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timezone

    from collectors.demo import DemoSource

    posts = [r for r in DemoSource(datetime(2026, 1, 5, tzinfo=timezone.utc)).corpus("Acme Air")
             if r.external_id.startswith("demo-acmeair-lang")]
    labels = int8.classify([r.text for r in posts])
    assert {lab.language for lab in labels} == {"es", "de", "ar"}
    flagged = {lab.language for lab in labels if lab.needs_review and is_language_reason(lab.review_reason)}
    assert flagged == {"es", "ar"}  # German is validated (revision 3, and with the ml1 fusion): labelled, not flagged
    assert all(lab.sentiment == "negative" for lab in labels if lab.language == "de")
