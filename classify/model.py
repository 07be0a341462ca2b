"""The multi-task network in PyTorch: the MiniLM (BERT) encoder, mean pooling, and two linear heads
(sentiment 3, intent 4) over one encoder pass.

The encoder is written out here rather than taken from transformers so that its parameter names match
the base checkpoint, training behaves the same under any transformers version, and the graph exports
to ONNX with the plain TorchScript exporter."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from classify.base import INTENTS, SENTIMENTS


class _Attention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads, self.dim = heads, hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, fused: bool) -> torch.Tensor:
        b, n, h = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, self.dim).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        if fused:  # training: one kernel on GPU
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:  # export: plain ops that every ONNX runtime understands
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dim) + bias
            ctx = torch.matmul(torch.softmax(scores, dim=-1), v)
        return ctx.transpose(1, 2).reshape(b, n, h)


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, inter: int, eps: float, dropout: float) -> None:
        super().__init__()
        self.attention = nn.Module()
        self.attention.self = _Attention(hidden, heads)
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(hidden, hidden)
        self.attention.output.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(hidden, inter)
        self.output = nn.Module()
        self.output.dense = nn.Linear(inter, hidden)
        self.output.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, fused: bool) -> torch.Tensor:
        a = self.attention.self(x, bias, fused)
        x = self.attention.output.LayerNorm(x + self.drop(self.attention.output.dense(a)))
        f = self.output.dense(F.gelu(self.intermediate.dense(x)))
        return self.output.LayerNorm(x + self.drop(f))


class MultiTaskMiniLM(nn.Module):
    def __init__(self, config: dict, dropout: float = 0.1) -> None:
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(config["vocab_size"], hidden)
        self.embeddings.position_embeddings = nn.Embedding(config["max_position_embeddings"], hidden)
        self.embeddings.token_type_embeddings = nn.Embedding(config["type_vocab_size"], hidden)
        self.embeddings.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(
            _Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps, dropout)
            for _ in range(config["num_hidden_layers"])
        )
        self.heads = nn.Module()
        self.heads.sentiment = nn.Linear(hidden, len(SENTIMENTS))
        self.heads.intent = nn.Linear(hidden, len(INTENTS))
        self.drop = nn.Dropout(dropout)
        self.fused = False

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        n = input_ids.shape[1]
        pos = torch.arange(n, device=input_ids.device).unsqueeze(0)
        emb = self.embeddings
        x = emb.word_embeddings(input_ids) + emb.position_embeddings(pos) + emb.token_type_embeddings.weight[0]
        x = self.drop(emb.LayerNorm(x))
        mask = attention_mask.to(x.dtype)
        # unsqueeze, cast, (1 - m) * -1e4 in the order BERT exports always had: ONNX Runtime's
        # transformer optimiser recognises that pattern and fuses the attention. -1e4, not -inf,
        # keeps fp16/int8 graphs finite.
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.encoder.layer:
            x = layer(x, bias, self.fused)
        # mean pooling over real tokens: how all-MiniLM-L6-v2 was pre-trained to summarise a text
        m = mask.unsqueeze(-1)
        return (x * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.drop(self.encode(input_ids, attention_mask))
        return self.heads.sentiment(pooled), self.heads.intent(pooled)


class ProbsWrapper(nn.Module):
    """What is exported: probabilities, so every runtime returns the same thing, and the unit-length
    mean-pooled sentence embedding the heads read (themes and suggested replies use it): one encoder
    pass gives both, the embedding costs one division in the graph."""

    def __init__(self, model: MultiTaskMiniLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pooled = self.model.encode(input_ids, attention_mask)
        s, i = self.model.heads.sentiment(pooled), self.model.heads.intent(pooled)
        unit = pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        return torch.softmax(s, -1), torch.softmax(i, -1), unit


def build_model(base_dir: Path, weights: dict[str, np.ndarray] | None = None, dropout: float = 0.1) -> MultiTaskMiniLM:
    """A model with the given weights (base + heads) loaded; heads stay randomly initialised when absent."""
    config = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
    model = MultiTaskMiniLM(config, dropout=dropout)
    if weights is not None:
        state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()
                 if not k.startswith("pooler.") and k != "embeddings.position_ids"}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [m for m in missing if not m.startswith("heads.")]
        if missing or unexpected:
            raise KeyError(f"weights do not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model


def state_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
