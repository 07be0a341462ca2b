"""Batched language detection gives py3langid's own answers, text for text and bit for bit."""
from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest

import classify.language as lang

MULTILINGUAL = [
    "Where is my parcel? It is five days late", "Der Kundenservice war super, danke!",
    "¿Dónde está mi pedido? Llevo una semana esperando.", "荷物がまだ届きません。",
    "Bonjour, je voudrais savoir où est mon colis", "Il volo è stato cancellato senza preavviso",
    "O atendimento foi ótimo, obrigado pela ajuda", "Mijn pakket is nog steeds niet bezorgd",
    "Moja paczka wciąż nie dotarła, co się dzieje?", "Мой заказ до сих пор не пришёл",
    "Замовлення досі не прийшло, що робити?", "طلبي لم يصل بعد، أرجو المساعدة",
    "הזמנה שלי עדיין לא הגיעה", "मेरा ऑर्डर अभी तक नहीं आया", "我的包裹还没有到，怎么回事？",
    "주문한 물건이 아직 도착하지 않았어요", "Siparişim hâlâ gelmedi, yardım eder misiniz?",
    "Đơn hàng của tôi vẫn chưa đến", "Paketti ei ole vieläkään saapunut", "Πού είναι η παραγγελία μου;",
    "Min pakke er ikke kommet frem endnu", "Mitt paket har fortfarande inte kommit",
    "Pesanan saya belum sampai juga", "Hindi pa dumarating ang order ko", "Comanda mea nu a sosit încă",
    "A csomagom még mindig nem érkezett meg", "Moje zásilka stále nedorazila", "Dw i'n aros am fy mhecyn",
]
EDGE = ["", "   ", "ok", "thanks!", "😂😂😂🔥", "1234 !!", "@airline https://t.co/x #fail", "x" * 10_000,
        "WHERE IS MY REFUND", "ÇA NE MARCHE PAS", "\ud83d lone surrogate in a sentence", "a\nb", "e\u0301te",
        "ok lol", "hello?", "Yes", "sr: Ово је ћирилица", "ovo je latinica na srpskom", "ab", "_a_b_"]


def _reference():  # type: ignore[no-untyped-def]
    """Careline's detect as it was, straight on py3langid: the answers to keep."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages([c for c in lang.LANGUAGES if c in ident.nb_classes])
    letter = re.compile(r"[^\W\d_]")

    def detect(text: str) -> str | None:
        cleaned = lang._NOISE.sub(" ", text or "")[:1000]
        if len(letter.findall(cleaned)) < 2:
            return None
        code, prob = ident.classify(cleaned)
        return str(code) if prob >= lang.MIN_CONFIDENCE else None

    return ident, detect


def _sample(extra: list[str]) -> list[str]:
    """Real sentences, edge cases, and seeded shuffles of words across languages (near-ties)."""
    rng = random.Random(3)
    words = " ".join(MULTILINGUAL + extra[:500]).split()
    mixed = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(1500)]
    return MULTILINGUAL + EDGE + extra + mixed


@pytest.fixture(scope="module")
def sample() -> list[str]:
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "semeval-sentiment"
    extra: list[str] = []
    for f in sorted(data.glob("*.tsv"))[:2]:
        extra += [line.split("\t")[-1] for line in f.read_text(encoding="utf-8").splitlines()[:1500]]
    return _sample(extra)


@pytest.fixture(scope="module")
def model_in_tmp_cache(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    mp = pytest.MonkeyPatch()
    mp.setenv("CARELINE_MODEL_CACHE", str(tmp_path_factory.mktemp("langid-cache")))
    lang._model.cache_clear()
    lang._identifier.cache_clear()
    yield lang._model()
    mp.undo()
    lang._model.cache_clear()
    lang._identifier.cache_clear()


def test_batched_answers_match_py3langid(sample: list[str], model_in_tmp_cache: lang._Model) -> None:
    _, reference = _reference()
    expected = [reference(t) for t in sample]
    assert lang.detect_many(sample) == expected
    # the per-text path (a few texts at a time) agrees too
    assert [lang.detect(t) for t in sample[:300]] == expected[:300]
    assert lang.detect_many(sample[:lang.FEW - 1]) == expected[:lang.FEW - 1]


def test_probabilities_are_bit_identical(sample: list[str], model_in_tmp_cache: lang._Model) -> None:
    ident, _ = _reference()
    cleaned = [c for c in map(lang._clean, sample) if c is not None]
    ours = np.concatenate([lang._probabilities(model_in_tmp_cache, [ident._encode(c) for c in cleaned[i:i + 700]])
                           for i in range(0, len(cleaned), 700)])
    theirs = np.stack([ident._decide(c) for c in cleaned])
    assert np.array_equal(ours, theirs)


def test_edge_cases() -> None:
    out = lang.detect_many(["", "😂😂", "1234 !!", "thanks!", None, 7] + MULTILINGUAL[:2] * 10)  # type: ignore[list-item]
    assert out[:6] == [None] * 6
    assert out[6:8] == ["en", "de"]
    assert lang.detect_many([]) == []


def test_model_cache_is_written_reused_and_repaired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELINE_MODEL_CACHE", str(tmp_path))
    path = lang._cache_file()
    assert path is not None and path.parent == tmp_path
    lang._model.cache_clear()
    try:
        built = lang._model()
        assert built is not None and path.is_file()
        lang._model.cache_clear()
        cached = lang._model()
        assert cached is not None and cached.classes == built.classes
        for name in ("nextmove", "rowbase", "output", "ptc", "pc"):
            assert np.array_equal(getattr(cached, name), getattr(built, name)), name
        path.write_bytes(b"not an npz")
        lang._model.cache_clear()
        repaired = lang._model()
        assert repaired is not None and np.array_equal(repaired.ptc, built.ptc)
        assert lang._read_cache(path) is not None
    finally:
        lang._model.cache_clear()
        lang._identifier.cache_clear()


def test_two_threads_load_the_model_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("CARELINE_MODEL_CACHE", str(tmp_path))
    built: list[object] = []
    real = lang._from_py3langid
    monkeypatch.setattr(lang, "_from_py3langid", lambda: built.append(1) or real())
    lang._model.cache_clear()
    lang._identifier.cache_clear()
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: lang.detect_many(MULTILINGUAL), range(4)))
        assert len(built) == 1 and all(a == answers[0] for a in answers)
        assert [p.name for p in tmp_path.iterdir()] == [lang._cache_file().name]  # type: ignore[union-attr]
    finally:
        lang._model.cache_clear()
        lang._identifier.cache_clear()
