"""A figure like the paper's Fig. 2: the stomach surface and the probe poses on it.

Probe positions are dots on the stomach wall, beams are arrows, both coloured by
landmark; each landmark's own surface is drawn faintly in its colour so one can see the
beams point at it. Two views (from the front-left and from the left-top) avoid a
misleading single projection. Drawn with matplotlib's Agg canvas, no global pyplot state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

from eusaug.ct.volume import CTCase
from eusaug.geometry.surface import Surface, organ_surface
from eusaug.io.atomic import atomic_path
from eusaug.poses.sampling import PoseSet

#: Colours of the paper's three landmarks; others cycle through matplotlib's tab10.
LANDMARK_COLOURS = {"aorta": "#d62728", "liver": "#8c564b", "pancreas": "#2ca02c"}
_CYCLE = ["#1f77b4", "#ff7f0e", "#9467bd", "#e377c2", "#17becf", "#bcbd22"]

#: (elevation, azimuth) degrees of the two panels.
VIEWS = ((15.0, -60.0), (60.0, 200.0))


def landmark_colour(landmark: str, index: int = 0) -> str:
    return LANDMARK_COLOURS.get(landmark, _CYCLE[index % len(_CYCLE)])


def _thin(count: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(count) if count <= limit else np.sort(rng.choice(count, limit, replace=False))


def plot_pose_sets(
    case: CTCase,
    pose_sets: PoseSet | Sequence[PoseSet],
    path: str | Path,
    title: str | None = None,
    arrow_mm: float = 25.0,
    max_poses: int = 300,
    max_triangles: int = 6000,
    stomach: Surface | None = None,
    seed: int = 0,
) -> Path:
    """Write the figure to ``path`` (PNG) atomically and return the path.

    ``arrow_mm``: drawn beam length. ``max_poses`` per set and ``max_triangles`` per
    surface keep big sets legible. ``stomach`` reuses a surface already extracted.
    """
    sets = [pose_sets] if isinstance(pose_sets, PoseSet) else list(pose_sets)
    rng = np.random.default_rng(seed)
    stomach = stomach or organ_surface(case.labels.ids == case.label_preset.id_of("stomach"), case.affine)
    landmarks = list(dict.fromkeys(s.landmark for s in sets))
    landmark_surfaces = {}
    for name in landmarks:
        mask = case.labels.ids == case.label_preset.id_of(name)
        if mask.any():
            landmark_surfaces[name] = organ_surface(mask, case.affine)

    figure = Figure(figsize=(13, 6.5), dpi=110)
    FigureCanvasAgg(figure)
    points = np.concatenate([stomach.triangles_mm.reshape(-1, 3)] + [s.positions_mm for s in sets])
    low, high = points.min(axis=0) - arrow_mm, points.max(axis=0) + arrow_mm
    for index, (elevation, azimuth) in enumerate(VIEWS):
        ax = figure.add_subplot(1, 2, index + 1, projection="3d")
        keep = _thin(len(stomach.triangles_mm), max_triangles, rng)
        ax.add_collection3d(
            Poly3DCollection(stomach.triangles_mm[keep], facecolor="#b0b0b0", edgecolor="none", alpha=0.35)
        )
        for k, name in enumerate(landmarks):
            surface = landmark_surfaces.get(name)
            if surface is not None:
                dots = surface.sample_points(3000, rng)
                dots = dots[((dots >= low) & (dots <= high)).all(axis=1)]  # a big liver would swamp the view
                ax.scatter(*dots.T, s=1, color=landmark_colour(name, k), alpha=0.12, depthshade=False)
        for pose_set in sets:
            colour = landmark_colour(pose_set.landmark, landmarks.index(pose_set.landmark))
            shown = _thin(len(pose_set), max_poses, rng)
            origin, beam = pose_set.positions_mm[shown], pose_set.beams[shown]
            ax.scatter(*origin.T, s=14, color=colour, edgecolor="black", linewidth=0.3, depthshade=False,
                       label=f"{pose_set.landmark} ({len(pose_set)} poses)" if index == 0 else None)
            ax.quiver(*origin.T, *(beam * arrow_mm).T, color=colour, linewidth=0.8, arrow_length_ratio=0.25)
        ax.set_xlim(low[0], high[0])
        ax.set_ylim(low[1], high[1])
        ax.set_zlim(low[2], high[2])
        ax.set_box_aspect(high - low)
        ax.view_init(elev=elevation, azim=azimuth)
        ax.set_xlabel("x mm (right)")
        ax.set_ylabel("y mm (anterior)")
        ax.set_zlabel("z mm (superior)")
        ax.tick_params(labelsize=7)
        if index == 0:
            ax.legend(loc="upper left", fontsize=8)
    name = Path(str(case.ct.path)).name if case.ct.path else "CT"
    figure.suptitle(title or f"Probe poses on the stomach wall, beams coloured by landmark ({name})")
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png")
    return path
