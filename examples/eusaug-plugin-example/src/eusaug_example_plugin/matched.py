"""The ``echo-match`` translator: ``edge-echo`` images whose grey levels are matched to real frames.

It shows the shape of a *trainable* translator written only against eusaug's public API:
a training config dataclass (``eusaug train --translator echo-match`` derives its options
from it), named presets, ``train`` writing a run folder, ``load`` reading it back, and a
one-line ``summary`` for the model store. "Training" here learns the grey-level quantiles
of the real frames inside their non-black sector: seconds, not hours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from eusaug import EusaugError, Planes, TrainableTranslator
from eusaug.io import atomic_directory, list_images, write_text
from eusaug.plugin import opt

from .plugin import EdgeEcho

MODEL_FILE = "echo-match.json"


@dataclass(frozen=True)
class EchoMatchConfig:
    """What shapes an ``echo-match`` model."""

    quantiles: int = field(default=64, metadata=opt("Grey-level quantiles learned from the real frames."))
    edge_gain: float = field(default=1.0, metadata=opt("Brightness of CT edges before matching."))
    max_frames: int = field(default=200, metadata=opt("Real frames read at most (evenly spaced)."))

    def __post_init__(self) -> None:
        if self.quantiles < 2 or self.edge_gain < 0 or self.max_frames < 1:
            raise EusaugError(f"echo-match: quantiles={self.quantiles} (>= 2), edge_gain={self.edge_gain} (>= 0), "
                              f"max_frames={self.max_frames} (>= 1).")


PRESETS = {"default": EchoMatchConfig(), "coarse": EchoMatchConfig(quantiles=16)}


class EchoMatch(TrainableTranslator):
    """``edge-echo`` output, grey levels mapped onto the real frames' distribution."""

    name = "echo-match"
    description = "Example trainable plugin: edge-echo with grey levels matched to real frames."
    training_config_class: ClassVar[type] = EchoMatchConfig
    training_presets: ClassVar[Mapping[str, Any]] = PRESETS

    def __init__(self, levels: np.ndarray, config: EchoMatchConfig) -> None:
        self.levels = np.asarray(levels, np.float32)  # the real frames' quantiles, in [-1, 1]
        self.config = config
        self._edges = EdgeEcho(edge_gain=config.edge_gain)

    @classmethod
    def load(cls, model: Path | None = None, **options: Any) -> EchoMatch:
        if model is None:
            raise EusaugError("echo-match needs a trained model: pass --model RUN (from eusaug train).")
        path = Path(model) / MODEL_FILE if Path(model).is_dir() else Path(model)
        if not path.is_file():
            raise EusaugError(f"{model} holds no {MODEL_FILE}: train one with eusaug train --translator echo-match.")
        data = json.loads(path.read_text())
        return cls(np.asarray(data["levels"]), EchoMatchConfig(**data["config"]))

    @classmethod
    def train(cls, run_dir: Path, *, eus_dir: Path, preset: str | None, overrides: Mapping[str, Any],
              force: bool, **_: Any) -> Path:
        """Learn the real frames' grey-level quantiles; the CT cases are not needed for that."""
        name = preset or "default"
        if name not in PRESETS:
            raise EusaugError(f"echo-match: unknown preset {name!r}; use one of {', '.join(PRESETS)}.")
        config = EchoMatchConfig(**{**asdict(PRESETS[name]), **overrides})
        frames = list_images(eus_dir, recursive=True)
        picked = frames[:: max(1, len(frames) // config.max_frames)][: config.max_frames]
        pixels = np.concatenate([cls._sector_pixels(p) for p in picked])
        levels = np.quantile(pixels, np.linspace(0.0, 1.0, config.quantiles)) / 127.5 - 1.0
        record = {"config": asdict(config), "levels": levels.round(6).tolist(), "frames": len(picked)}
        with atomic_directory(Path(run_dir), force=True) as tmp:
            write_text(tmp / MODEL_FILE, json.dumps(record, indent=2))
        return Path(run_dir)

    @staticmethod
    def _sector_pixels(path: Path) -> np.ndarray:
        grey = np.asarray(Image.open(path).convert("L"), np.float32)
        return grey[grey > 8]  # inside the imaging sector: skip the black surround

    @classmethod
    def summary(cls, run_dir: Path) -> str:
        data = json.loads((Path(run_dir) / MODEL_FILE).read_text())
        return f"echo-match, {len(data['levels'])} quantiles from {data['frames']} frames"

    def get_config(self) -> dict[str, Any]:
        return {"translator": self.name, **asdict(self.config)}

    def translate(self, planes: Planes, rng: np.random.Generator) -> np.ndarray:
        """Rank each pixel of ``edge-echo``'s image, then read the real frames' level at that rank."""
        raw = self._edges.translate(planes, rng)
        out = np.full(raw.shape, -1.0, np.float32)
        inside = planes.mask
        if inside.any():
            values = raw[inside]
            ranks = np.argsort(np.argsort(values)) / max(len(values) - 1, 1)
            grid = np.linspace(0.0, 1.0, len(self.levels))
            out[inside] = np.interp(ranks, grid, self.levels).astype(np.float32)
        return out
