"""The int8 model agrees with the full-precision one; the ONNX graph matches PyTorch."""
from __future__ import annotations

import numpy as np

from classify.minilm import CarelineMiniLM

SAMPLE = [
    "My flight was cancelled and no one from @airline will answer. Unacceptable.",
    "Huge thanks to the support team, fixed in five minutes!",
    "Does anyone know if the store on Main St is open on Sundays?",
    "Just landed in Lisbon.",
    "The app keeps crashing every time I open my cart",
    "love the new colours on the website",
    "How do I change the email on my account?",
    "third time this month my package is late. done with you",
    "Watching the game tonight with friends",
    "Your new update is brilliant, battery lasts all day now",
    "why is the checkout broken again??",
    "ok",
] * 3


def test_int8_agrees_with_fp32(int8: CarelineMiniLM, fp32: CarelineMiniLM) -> None:
    s8, i8 = int8.predict_proba(SAMPLE)
    s32, i32 = fp32.predict_proba(SAMPLE)
    assert (s8.argmax(1) == s32.argmax(1)).mean() >= 0.9
    assert (i8.argmax(1) == i32.argmax(1)).mean() >= 0.9
    assert np.abs(s8 - s32).mean() < 0.05


def test_onnx_fp32_matches_torch(fp32: CarelineMiniLM) -> None:
    torch_clf = CarelineMiniLM(backend="torch", detect_language=False)
    assert torch_clf.version.endswith("+torch")
    a = fp32.predict_proba(SAMPLE[:12])
    b = torch_clf.predict_proba(SAMPLE[:12])
    np.testing.assert_allclose(a[0], b[0], atol=1e-3)
    np.testing.assert_allclose(a[1], b[1], atol=1e-3)
