"""The synthetic ratio as a checked value: built (and checked) once at the edge, trusted inside.

A :class:`Ratio` is a ``float`` in [0, 1); building one from a ``Ratio`` returns it
unchanged, so passing it through planning, writing and the classifier checks nothing
twice. The paper's ratios are defined here and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from eusaug.errors import EusaugError


def _checked_value(value: object) -> float:
    """The one place a ratio is validated (counted by the tests)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EusaugError(f"Synthetic ratio {value!r} is not a number: give a value in [0, 1), e.g. 0.5.") from None
    if not math.isfinite(number) or not 0.0 <= number < 1.0:
        raise EusaugError(f"Synthetic ratio {value!r} is outside [0, 1): give e.g. 0.25 for 25 % synthetic "
                          "(1 would leave no real images).")
    return number


class Ratio(float):
    """A synthetic share of a class in [0, 1) (0.25: a quarter of the class is synthetic)."""

    def __new__(cls, value: float | str) -> Ratio:
        if isinstance(value, Ratio):
            return value
        return super().__new__(cls, _checked_value(value))

    def __repr__(self) -> str:
        return float.__repr__(self)

    @property
    def folder_name(self) -> str:
        """Sub-folder of a sweep: ``ratio_0``, ``ratio_0.25``, ..."""
        return f"ratio_{self:g}"


#: The paper's synthetic ratios (Table 2).
PAPER_RATIOS: tuple[Ratio, ...] = (Ratio(0.0), Ratio(0.25), Ratio(0.5), Ratio(0.75))


def check_ratio(ratio: float | str) -> Ratio:
    """``ratio`` as a checked :class:`Ratio` (a ``Ratio`` passes through unchecked), else raise."""
    return Ratio(ratio)


def check_ratios(ratios: Iterable[float | str]) -> tuple[Ratio, ...]:
    """At least one ratio, each in [0, 1) and given once."""
    values = tuple(Ratio(r) for r in ratios)
    if not values:
        raise EusaugError("No ratios given: pass e.g. 0,0.25,0.5,0.75.")
    if len(set(values)) != len(values):
        raise EusaugError(f"Ratios {', '.join(f'{r:g}' for r in values)} repeat a value: give each ratio once.")
    return values


def parse_ratios(text: str) -> tuple[Ratio, ...]:
    """``"0,0.25,0.5"`` -> ``(Ratio(0.0), Ratio(0.25), Ratio(0.5))``; each checked once."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise EusaugError(f"Ratios {text!r} list no ratio: give e.g. 0,0.25,0.5,0.75.")
    return check_ratios(parts)


def ratio_folder_name(ratio: float) -> str:
    """Sub-folder of a sweep for ``ratio``: ``ratio_0``, ``ratio_0.25``, ..."""
    return Ratio(ratio).folder_name
