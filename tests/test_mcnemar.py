"""McNemar tests against p-values worked out by hand."""

from __future__ import annotations

import csv
import math
from math import comb

import numpy as np
import pytest

from eusaug.errors import EusaugError
from eusaug.evaluate.mcnemar import (
    compare_models,
    contingency_table,
    holm,
    mcnemar_p_values,
    mcnemar_report,
    mcnemar_test,
    read_predictions,
)


def _upper_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), by counting."""
    return sum(comb(n, i) for i in range(k, n + 1)) / 2**n


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _answers(both: int, a_only: int, b_only: int, neither: int) -> tuple[list[bool], list[bool]]:
    a = [True] * both + [True] * a_only + [False] * b_only + [False] * neither
    b = [True] * both + [False] * a_only + [True] * b_only + [False] * neither
    return a, b


def test_table_counts_agreements_and_disagreements():
    a, b = _answers(10, 7, 2, 5)
    assert contingency_table(a, b).tolist() == [[10, 7], [2, 5]]


def test_p_values_match_hand_computation_in_both_directions():
    table = np.array([[10, 7], [2, 5]])  # A alone right 7 times, B alone 2 times; n = 9 discordant
    exact, chi2, chi2_p, exact_two, chi2_two = mcnemar_p_values(table, "greater")
    assert exact == pytest.approx(46 / 512)              # P(X >= 7), X ~ Bin(9, 1/2)
    assert exact == pytest.approx(_upper_tail(7, 9))
    assert exact_two == pytest.approx(2 * 46 / 512)      # two-sided: twice the smaller tail
    assert chi2 == pytest.approx((7 - 2 - 1) ** 2 / 9)    # 16 / 9
    assert chi2_two == pytest.approx(math.erfc(math.sqrt(16 / 9 / 2)))
    assert chi2_p == pytest.approx(_normal_sf((7 - 2 - 1) / 3))

    exact_less, _, chi2_less, _, _ = mcnemar_p_values(table, "less")  # H1: B better; the data say the opposite
    assert exact_less == pytest.approx(_upper_tail(2, 9))  # = 502 / 512
    assert exact_less == pytest.approx(502 / 512)
    assert chi2_less == pytest.approx(_normal_sf((2 - 7 - 1) / 3))
    assert exact_less > 0.9 and chi2_less > 0.9

    two = mcnemar_p_values(table, "two-sided")
    assert two[0] == pytest.approx(exact_two) and two[2] == pytest.approx(chi2_two)


def test_result_states_direction_and_accuracies():
    a, b = _answers(40, 12, 3, 5)
    result = mcnemar_test("ratio_0", a, "ratio_0.75", b, "greater")
    assert result.h1 == "ratio_0 is right more often than ratio_0.75"
    assert result.accuracy_a == pytest.approx(52 / 60) and result.accuracy_b == pytest.approx(43 / 60)
    assert result.exact_p == pytest.approx(_upper_tail(12, 15))
    assert result.exact_p < 0.05 < result.exact_p_two_sided * 10


def test_no_disagreement_means_no_evidence():
    exact, chi2, chi2_p, exact_two, chi2_two = mcnemar_p_values(np.array([[5, 3], [3, 1]]), "greater")
    assert (chi2, chi2_two, exact_two) == (0.0, 1.0, 1.0)  # b == c: the statistic is 0, not (0 - 1)^2 / n
    assert exact == pytest.approx(_upper_tail(3, 6)) and chi2_p == pytest.approx(_normal_sf(-1 / math.sqrt(6)))
    assert mcnemar_p_values(np.array([[5, 0], [0, 1]]), "greater") == (1.0, 0.0, 1.0, 1.0, 1.0)


def test_holm_matches_hand_computation():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def _write_predictions(path, models):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "image", "true", "predicted"])
        for model, answers in models.items():
            for image, (true, predicted) in answers.items():
                writer.writerow([model, image, true, predicted])


def test_report_from_predictions_csv(tmp_path):
    truth = {f"img{i}.png": "liver" if i % 2 else "aorta" for i in range(20)}
    right = {k: (v, v) for k, v in truth.items()}
    wrong_first_six = {k: (v, "pancreas" if i < 6 else v) for i, (k, v) in enumerate(truth.items())}
    _write_predictions(tmp_path / "predictions.csv", {"ratio_0": right, "ratio_0.5": wrong_first_six})
    report = mcnemar_report([tmp_path / "predictions.csv"], tmp_path / "out")
    (result,) = report.results
    assert (result.a_only_right, result.b_only_right) == (6, 0)
    assert result.exact_p == pytest.approx(1 / 64) and result.exact_p_holm == pytest.approx(1 / 64)
    with open(tmp_path / "out" / "mcnemar.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["h1"] == "ratio_0 is right more often than ratio_0.5"
    with pytest.raises(EusaugError, match="already exist"):
        mcnemar_report([tmp_path / "predictions.csv"], tmp_path / "out")


def test_missing_or_duplicate_predictions_are_errors(tmp_path):
    full = {f"img{i}.png": ("aorta", "aorta") for i in range(5)}
    partial = dict(list(full.items())[:3])
    _write_predictions(tmp_path / "p.csv", {"a": full, "b": partial})
    with pytest.raises(EusaugError, match="'b' has no prediction for 2 test image"):
        compare_models(read_predictions([tmp_path / "p.csv"]))
    with pytest.raises(EusaugError, match="second prediction"):
        read_predictions([tmp_path / "p.csv", tmp_path / "p.csv"])
    with pytest.raises(EusaugError, match="two or more models"):
        compare_models({"a": {"x": True}})
    (tmp_path / "bad.csv").write_text("model,image\nx,y\n")
    with pytest.raises(EusaugError, match="lacks the column"):
        read_predictions([tmp_path / "bad.csv"])


def test_significance_is_the_uncorrected_p_and_holm_is_an_extra_column(tmp_path):
    """One pair at p = 1/32 among three: significant uncorrected (the paper's), not after Holm (3/32)."""
    images = [f"img{i}.png" for i in range(10)]
    answers = {"a": dict.fromkeys(images, True), "c": dict.fromkeys(images, True),
               "b": {image: i >= 5 for i, image in enumerate(images)}}
    results = {(r.model_a, r.model_b): r for r in compare_models(answers, models=["a", "b", "c"])}
    ab = results[("a", "b")]
    assert ab.exact_p == pytest.approx(_upper_tail(5, 5)) == pytest.approx(1 / 32)
    assert ab.exact_p_holm == pytest.approx(3 / 32)
    assert ab.significant is True and ab.significant_holm is False and ab.significance == "uncorrected"
    assert [r.significant for r in results.values()] == [True, False, False]
    by_holm = compare_models(answers, models=["a", "b", "c"], significance="holm")
    assert [r.significant for r in by_holm] == [False, False, False]
    assert [r.exact_p for r in by_holm] == [r.exact_p for r in results.values()]  # the p column is unchanged
    no_holm = compare_models(answers, models=["a", "b", "c"], holm_correction=False)
    assert no_holm[0].significant is True and no_holm[0].exact_p_holm is None and no_holm[0].significant_holm is None
    with pytest.raises(EusaugError, match="needs the Holm correction"):
        compare_models(answers, holm_correction=False, significance="holm")
    _write_predictions(tmp_path / "p.csv", {m: {k: ("aorta", "aorta" if ok else "liver") for k, ok in a.items()}
                                            for m, a in answers.items()})
    report = mcnemar_report([tmp_path / "p.csv"], tmp_path / "out", models=["a", "b", "c"])
    assert "1 of 3 pair(s) significant" in report.notes[1] and "uncorrected" in report.notes[1]
    assert "0 significant" in report.notes[2]
    with open(tmp_path / "out" / "mcnemar.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    assert (row["significant"], row["significant_holm"]) == ("True", "False")
