"""McNemar tests between classifiers evaluated on the same test images (the paper's Table 2).

For models A and B the 2x2 table counts the images both get right, only A gets right
(``b``), only B gets right (``c``) and both get wrong. Only the discordant pairs matter:
under H0 (equal accuracy) ``b ~ Binomial(b + c, 1/2)``.

Two tests, both from statsmodels: the exact binomial test and the chi-square test with
continuity correction (``(|b - c| - 1)^2 / (b + c)``). The paper used one-sided tests;
``alternative`` states the direction:

* ``"greater"``: H1 "A is right more often than B" (``b > c``); exact p = P(X >= b),
  chi-square p = P(Z >= (b - c - 1) / sqrt(b + c)) (the continuity-corrected normal tail);
* ``"less"``: H1 "B is right more often than A" (the mirror image);
* ``"two-sided"``: statsmodels' two-sided p-values.

"Significant" is decided from the uncorrected one-sided exact p of each pair
(``exact_p``), as the paper did ("Single-sided McNemar tests comparing classifier pairs
indicated the small reduction in accuracy [...] was statistically significant
(p < 0.05)"; it names no correction): that column and ``significant`` are the ones to
set beside the paper. Holm's step-down correction over the tested pairs (statsmodels
``multipletests``), which keeps the family-wise error rate at ``alpha``, is reported as
the extra columns ``exact_p_holm`` and ``significant_holm``; ``significance="holm"``
makes it decide ``significant`` instead.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from eusaug.errors import EusaugError
from eusaug.io.tables import check_new, read_csv_rows, write_csv

Alternative = Literal["greater", "less", "two-sided"]
Pairs = Literal["all", "adjacent", "first"]
#: Which p decides ``significant``: ``uncorrected`` (the paper's) or ``holm``.
Significance = Literal["uncorrected", "holm"]
SIGNIFICANCE_CHOICES: tuple[str, ...] = ("uncorrected", "holm")

#: The significance level of the paper ("statistically significant (p < 0.05)").
PAPER_ALPHA = 0.05

PREDICTION_COLUMNS = ("model", "image", "true", "predicted")


@dataclass(frozen=True)
class McNemarResult:
    """One pair of models: the table, both tests, and the p-value of the stated direction."""

    model_a: str
    model_b: str
    n_images: int
    both_right: int
    a_only_right: int
    b_only_right: int
    both_wrong: int
    accuracy_a: float
    accuracy_b: float
    alternative: str
    h1: str
    exact_p: float
    chi2: float
    chi2_p: float
    exact_p_two_sided: float
    chi2_p_two_sided: float
    exact_p_holm: float | None = None
    #: ``exact_p < alpha`` (or the Holm p when ``significance="holm"``); None before it is decided.
    significant: bool | None = None
    #: ``exact_p_holm < alpha``, reported beside ``significant`` (None without Holm).
    significant_holm: bool | None = None
    significance: str = "uncorrected"
    alpha: float = PAPER_ALPHA


def contingency_table(correct_a: Sequence[bool] | np.ndarray, correct_b: Sequence[bool] | np.ndarray) -> np.ndarray:
    """``[[both right, only A right], [only B right, both wrong]]`` as int64."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise EusaugError(f"Both models need one right/wrong value per test image (got {a.shape} and {b.shape}).")
    return np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]], dtype=np.int64)


def mcnemar_p_values(table: np.ndarray, alternative: Alternative = "greater") -> tuple[float, float, float, float, float]:
    """``(exact p, chi2, chi2 p, exact p two-sided, chi2 p two-sided)`` for a 2x2 table.

    The first and third follow ``alternative`` (see the module doc).
    """
    from scipy.stats import norm
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.proportion import binom_test

    table = np.asarray(table, dtype=np.int64)
    if table.shape != (2, 2) or (table < 0).any():
        raise EusaugError(f"A McNemar table is 2x2 with counts >= 0, got {table.tolist()}.")
    if alternative not in ("greater", "less", "two-sided"):
        raise EusaugError(f"alternative={alternative!r} is unknown: use greater (A better), less (B better) or "
                          "two-sided.")
    b, c = int(table[0, 1]), int(table[1, 0])
    n = b + c
    if n == 0:  # no image on which the models disagree: no evidence either way
        return 1.0, 0.0, 1.0, 1.0, 1.0
    exact_two = float(mcnemar(table, exact=True).pvalue)
    corrected = mcnemar(table, exact=False, correction=True)
    chi2, chi2_two = float(corrected.statistic), float(corrected.pvalue)
    if b == c:  # statsmodels' correction overshoots here: |b - c| - 1 < 0 means no evidence at all
        chi2, chi2_two = 0.0, 1.0
    if alternative == "two-sided":
        return exact_two, chi2, chi2_two, exact_two, chi2_two
    wins, losses = (b, c) if alternative == "greater" else (c, b)
    exact = float(binom_test(wins, n, 0.5, alternative="larger"))
    chi2_one = float(norm.sf((wins - losses - 1) / np.sqrt(n)))
    return exact, chi2, chi2_one, exact_two, chi2_two


def describe_h1(model_a: str, model_b: str, alternative: Alternative) -> str:
    if alternative == "greater":
        return f"{model_a} is right more often than {model_b}"
    if alternative == "less":
        return f"{model_b} is right more often than {model_a}"
    return f"{model_a} and {model_b} differ in accuracy"


def mcnemar_test(model_a: str, correct_a: Sequence[bool] | np.ndarray, model_b: str,
                 correct_b: Sequence[bool] | np.ndarray, alternative: Alternative = "greater") -> McNemarResult:
    """Test two models' right/wrong answers on the same images, in the same order."""
    table = contingency_table(correct_a, correct_b)
    exact, chi2, chi2_p, exact_two, chi2_two = mcnemar_p_values(table, alternative)
    n = int(table.sum())
    return McNemarResult(
        model_a, model_b, n, int(table[0, 0]), int(table[0, 1]), int(table[1, 0]), int(table[1, 1]),
        float(table[0].sum() / n) if n else float("nan"), float(table[:, 0].sum() / n) if n else float("nan"),
        alternative, describe_h1(model_a, model_b, alternative), exact, chi2, chi2_p, exact_two, chi2_two)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (statsmodels)."""
    from statsmodels.stats.multitest import multipletests

    if not p_values:
        return []
    return [float(p) for p in multipletests(list(p_values), method="holm")[1]]


def read_predictions(paths: Sequence[str | os.PathLike[str]]) -> dict[str, dict[str, bool]]:
    """``{model: {image: right?}}`` from ``predictions.csv`` files (model, image, true, predicted)."""
    if not paths:
        raise EusaugError("No predictions file given: pass --predictions predictions.csv (written by "
                          "eusaug evaluate classifier).")
    models: dict[str, dict[str, bool]] = {}
    for path in paths:
        for line, row in enumerate(read_csv_rows(path, PREDICTION_COLUMNS), start=2):
            model, image = row["model"].strip(), row["image"].strip()
            if not model or not image or not row["true"].strip() or not row["predicted"].strip():
                raise EusaugError(f"{path}, line {line}: model, image, true and predicted must all be filled in.")
            answers = models.setdefault(model, {})
            if image in answers:
                raise EusaugError(f"{path}, line {line}: model {model!r} has a second prediction for {image}: "
                                  "keep one prediction per model and image.")
            answers[image] = row["true"].strip() == row["predicted"].strip()
    return models


def model_pairs(models: Sequence[str], pairs: Pairs = "all") -> list[tuple[str, str]]:
    """``all`` pairs (in order), ``adjacent`` ones, or the ``first`` model against each other."""
    if pairs == "all":
        return list(itertools.combinations(models, 2))
    if pairs == "adjacent":
        return list(itertools.pairwise(models))
    if pairs == "first":
        return [(models[0], m) for m in models[1:]]
    raise EusaugError(f"pairs={pairs!r} is unknown: use all, adjacent or first.")


def compare_models(predictions: Mapping[str, Mapping[str, bool]], pairs: Pairs = "all",
                   alternative: Alternative = "greater", holm_correction: bool = True,
                   models: Sequence[str] | None = None, alpha: float = PAPER_ALPHA,
                   significance: Significance = "uncorrected") -> list[McNemarResult]:
    """McNemar tests for pairs of models, on the images every model of the pair predicted.

    Each result says whether it is ``significant`` at ``alpha`` by the uncorrected exact
    p (``significance="uncorrected"``, the paper's) or the Holm-adjusted one (``"holm"``,
    which needs ``holm_correction``); with ``holm_correction`` the Holm p and verdict are
    reported as extra columns either way. A model that lacks predictions for images
    another model has is an error: the test needs both answers for every image.
    """
    if not 0.0 < alpha < 1.0:
        raise EusaugError(f"alpha={alpha} must be in (0, 1).")
    if significance not in SIGNIFICANCE_CHOICES:
        raise EusaugError(f"significance={significance!r} is unknown: use uncorrected (the paper's) or holm.")
    if significance == "holm" and not holm_correction:
        raise EusaugError("significance='holm' needs the Holm correction: drop --no-holm, or decide by the "
                          "uncorrected p (significance='uncorrected', the paper's).")
    names = list(models) if models else list(predictions)
    unknown = [m for m in names if m not in predictions]
    if unknown:
        raise EusaugError(f"No predictions for model(s) {', '.join(unknown)}: the file has "
                          f"{', '.join(predictions) or 'none'}.")
    if len(names) < 2:
        raise EusaugError(f"McNemar tests compare two or more models; the predictions hold {len(names)} "
                          f"({', '.join(names) or 'none'}).")
    results = []
    for a, b in model_pairs(names, pairs):
        images_a, images_b = set(predictions[a]), set(predictions[b])
        if images_a != images_b:
            missing_b, missing_a = sorted(images_a - images_b), sorted(images_b - images_a)
            lacking, lacks = (b, missing_b) if missing_b else (a, missing_a)
            raise EusaugError(f"Model {lacking!r} has no prediction for {len(lacks)} test image(s) the other model "
                              f"has (e.g. {lacks[0]}): both models must predict the same images.")
        order = sorted(images_a)
        results.append(mcnemar_test(a, [predictions[a][i] for i in order], b, [predictions[b][i] for i in order],
                                    alternative))
    adjusted: list[float | None] = [None] * len(results)
    if holm_correction and results:
        adjusted = list(holm([r.exact_p for r in results]))
    out = []
    for r, p_holm in zip(results, adjusted):
        holm_verdict = None if p_holm is None else bool(p_holm < alpha)
        verdict = holm_verdict if significance == "holm" else bool(r.exact_p < alpha)
        out.append(replace(r, exact_p_holm=p_holm, significant=verdict, significant_holm=holm_verdict,
                           significance=significance, alpha=alpha))
    return out


def write_mcnemar_csv(path: Path, results: Sequence[McNemarResult]) -> Path:
    """``mcnemar.csv``: one row per pair with the table, both tests and the direction."""
    return write_csv(path, [asdict(r) for r in results])


@dataclass
class McNemarReport:
    results: list[McNemarResult]
    files: list[Path]
    notes: list[str]


def mcnemar_report(predictions: Sequence[str | os.PathLike[str]], output_dir: str | os.PathLike[str],
                   pairs: Pairs = "all", alternative: Alternative = "greater", holm_correction: bool = True,
                   models: Sequence[str] | None = None, alpha: float = PAPER_ALPHA, force: bool = False,
                   significance: Significance = "uncorrected") -> McNemarReport:
    """Read predictions, test the pairs, write ``mcnemar.csv``; refuse to replace it without ``force``.

    ``significant`` follows ``significance`` (default: the uncorrected exact p, as the
    paper); the Holm columns are added with ``holm_correction``.
    """
    if not 0.0 < alpha < 1.0:
        raise EusaugError(f"alpha={alpha} must be in (0, 1).")
    path = Path(output_dir) / "mcnemar.csv"
    check_new([path], force)
    results = compare_models(read_predictions(predictions), pairs, alternative, holm_correction, models, alpha,
                             significance)
    write_mcnemar_csv(path, results)
    chosen = "Holm-adjusted exact" if significance == "holm" else "uncorrected one-sided exact (the paper's)"
    if alternative == "two-sided":
        chosen = chosen.replace("one-sided", "two-sided")
    notes = [f"Direction ({alternative}): H1 for each pair A vs B is '{describe_h1('A', 'B', alternative)}'.",
             f"{sum(bool(r.significant) for r in results)} of {len(results)} pair(s) significant at "
             f"alpha={alpha:g} ({chosen} p)."]
    if holm_correction and significance != "holm":
        notes.append(f"With Holm's correction over the {len(results)} pair(s): "
                     f"{sum(bool(r.significant_holm) for r in results)} significant (column significant_holm).")
    return McNemarReport(results, [path], notes)
