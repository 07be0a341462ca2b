"""WordPiece tokenisation with the `tokenizers` library alone (no transformers import on the hot path)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classify.base import ModelError


class Tokenizer:
    """Batch tokenisation to padded int64 arrays, truncated to `max_len` tokens ([CLS] .. [SEP])."""

    def __init__(self, tokenizer_json: Path, max_len: int = 128) -> None:
        from tokenizers import Tokenizer as _Tok

        try:
            self._tok = _Tok.from_file(str(tokenizer_json))
        except Exception as exc:  # tokenizers raises plain Exception subclasses for bad files
            raise ModelError(f"cannot read tokenizer {tokenizer_json}: {exc}") from exc
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=max_len)
        self.max_len = max_len

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=True)]

    @staticmethod
    def pad(ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Right-pad to the longest sequence of this batch; returns (input_ids, attention_mask)."""
        width = max((len(x) for x in ids), default=1)
        out = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, seq in enumerate(ids):
            out[i, : len(seq)] = seq
            mask[i, : len(seq)] = 1
        return out, mask
