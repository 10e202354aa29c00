"""Fit the field of view to the shared real frames; print the numbers, optionally draw the figure.

    python benchmarks/fit_fov.py [--frames DIR] [--depth-mm 150] [--figure docs/images/fov-fit.png]

Prints ``name: value`` lines: the fit of all frames, of two disjoint halves (stability),
per subject (the file name's letter), and the share of the frames' non-black pixels that
the fitted fan covers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from eusaug.geometry import BLACK_LEVEL, fit_frames, frame_share
from eusaug.io import list_images, read_grey_uint8

FRAMES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "us" / "abdominal_rus_train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=Path, default=FRAMES)
    parser.add_argument("--depth-mm", type=float, default=150.0)
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()

    paths = list_images(args.frames)
    start = time.perf_counter()
    fit = fit_frames(paths)
    print(f"fit_seconds: {time.perf_counter() - start:.2f}")
    fov = fit.to_field_of_view(args.depth_mm)
    for name, value in fit.to_dict().items():
        print(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}")
    print(f"pixel_mm_at_{args.depth_mm:g}_mm: {fov.pixel_mm:.4f}")
    print(f"probe_radius_mm: {fov.probe_radius_mm:.2f}")
    print(f"frame_mm: left {fov.frame_left_mm:.2f} top {fov.frame_top_mm:.2f} "
          f"width {fov.frame_width_mm:.2f} height {fov.frame_height_mm:.2f}")
    a, b = fit_frames(paths[0::2]), fit_frames(paths[1::2])
    for name in ("apex_x_px", "apex_y_px", "opening_deg", "inner_radius_px", "outer_radius_px"):
        print(f"halves_difference_{name}: {abs(getattr(a, name) - getattr(b, name)):.3f}")
    for subject in sorted({p.name[0] for p in paths}):
        part = fit_frames([p for p in paths if p.name[0] == subject])
        print(f"subject_{subject}: n {part.n_frames} apex ({part.apex_x_px:.1f}, {part.apex_y_px:.1f}) "
              f"opening {part.opening_deg:.2f} deg radii {part.inner_radius_px:.1f}-{part.outer_radius_px:.1f} px")
    fan = fit.mask()
    covered = total = 0
    for path in paths:
        lit = read_grey_uint8(path) > BLACK_LEVEL
        covered += int((lit & fan).sum())
        total += int(lit.sum())
    print(f"coverage_of_non_black_pixels: {covered / total:.4f}")
    if args.figure is not None:
        draw(args.frames, fit, args.figure)
        print(f"figure: {args.figure}")


def draw(frames: Path, fit, path: Path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    share, n = frame_share(frames)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    shown = ax.imshow(share, cmap="gray", vmin=0, vmax=1)
    fig.colorbar(shown, ax=ax, fraction=0.035, label="share of frames non-black")
    half = np.deg2rad(fit.opening_deg) / 2
    angles = np.linspace(-half, half, 200)
    x0, y0, r0, r1 = fit.apex_x_px, fit.apex_y_px, fit.inner_radius_px, fit.outer_radius_px
    outline_x = np.concatenate([x0 + r0 * np.sin(angles), x0 + r1 * np.sin(angles[::-1]), [x0 + r0 * np.sin(-half)]])
    outline_y = np.concatenate([y0 + r0 * np.cos(angles), y0 + r1 * np.cos(angles[::-1]), [y0 + r0 * np.cos(-half)]])
    # imshow puts pixel centres on integers; the fit's pixel (r, c) spans [c, c + 1].
    ax.plot(outline_x - 0.5, outline_y - 0.5, color="tab:red", lw=1.2, label="fitted fan")
    ax.set_xlim(0, fit.width_px)
    ax.set_ylim(fit.height_px, 0)
    ax.set_title(f"{n} frames: {fit.opening_deg:.1f} deg, radii {r0:.0f}-{r1:.0f} px, apex y {y0:.0f} px", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_axis_off()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
