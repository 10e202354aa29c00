"""Which scored epoch a run keeps: the last, unless validation shows an earlier one better beyond its noise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: An earlier epoch is kept instead of the last scored one only when its KID is lower by more than
#: this many standard deviations (the larger of the two rows' ``kid_std``). The late epochs of a
#: schedule that decays to zero differ by less than validation's noise, and a pick among them
#: follows the noise: on twelve realism-bench runs of the hybrid (docs/realism.md, 2026-12-08) the
#: lowest KID's epoch scored within 0.1 FID of the last epoch on the held-out subjects in six, worse
#: by 1.5 to 12.1 in five, and better once (by 4.9).
PICK_MARGIN_STD = 2.0


def best_epoch(rows: Sequence[dict[str, Any]]) -> int | None:
    """The epoch validation picks: the last scored one, unless an earlier epoch's KID is lower
    beyond the noise (:data:`PICK_MARGIN_STD`; the earliest of equal lowest); None without a
    finite KID."""
    finite = [r for r in rows if np.isfinite(r["kid"])]
    if not finite:
        return None
    last = max(finite, key=lambda r: r["epoch"])
    lowest = min(finite, key=lambda r: (r["kid"], r["epoch"]))
    margin = PICK_MARGIN_STD * max(float(lowest.get("kid_std", 0.0)), float(last.get("kid_std", 0.0)))
    return int(lowest["epoch"]) if last["kid"] - lowest["kid"] > margin else int(last["epoch"])
