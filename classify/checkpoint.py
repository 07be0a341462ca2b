"""Checkpoints inside one training run, so a CPU run that takes an hour can be stopped (a session ends,
the machine is needed) and carried on later from the last checkpoint instead of from the start.

A checkpoint holds the weights, the optimiser and LR schedule, the weight EMA, torch's RNG and the
position in the epoch (with the shuffling RNG's state at that epoch's start, so the same batch order is
rebuilt and the batches already trained are skipped). It is only used by a run with the very same
settings and example count; anything else starts afresh and says so in the log."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)


@dataclass
class Position:
    """Where a run stands: optimiser steps done, the epoch, batches of that epoch done, and the state of
    the batch-shuffling RNG when that epoch's batches were drawn."""
    step: int = 0
    epoch: int = 0
    batch: int = 0
    epoch_rng: Any = None
    running: float = 0.0
    history: list[dict] = field(default_factory=list)


class Checkpointer:
    """Saves every `every` optimiser steps to `path` (written to a temporary file, then renamed, so a
    kill during the save leaves the previous checkpoint intact)."""

    def __init__(self, path: Path, identity: dict, every: int = 50) -> None:
        self.path, self.identity, self.every = path, identity, max(1, every)

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def save(self, model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any,
             shadow: list[torch.Tensor], pos: Position) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        torch.save({"identity": self.identity, "model": model.state_dict(), "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "shadow": shadow, "torch_rng": torch.get_rng_state(),
                    "position": pos.__dict__}, tmp)
        os.replace(tmp, self.path)
        logger.info("checkpoint at step %d written to %s", pos.step, self.path)

    def restore(self, model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any,
                shadow: list[torch.Tensor]) -> Position | None:
        """Load the checkpoint into the given objects and return its position; None (nothing loaded)
        when there is none or it belongs to other settings."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:  # any unreadable file (truncated, not a checkpoint): start afresh, said in the log
            logger.warning("checkpoint %s unreadable (%s): starting afresh", self.path, exc)
            return None
        if state.get("identity") != self.identity:
            logger.warning("checkpoint %s is for other settings or data: starting afresh", self.path)
            return None
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        with torch.no_grad():
            for s, v in zip(shadow, state["shadow"]):
                s.copy_(v)
        torch.set_rng_state(state["torch_rng"])
        pos = Position(**state["position"])
        logger.info("resuming from %s at step %d (epoch %d, batch %d)", self.path, pos.step, pos.epoch + 1, pos.batch)
        return pos

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
