"""Label presets: which label id in a segmentation means which organ, and which mean bone."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from eusaug.errors import EusaugError, did_you_mean, short_list

#: The 13 organs of the MICCAI 2015 "Multi-Atlas Labeling Beyond the Cranial Vault" (BTCV)
#: challenge, where the paper's CT came from. Names follow TotalSegmentator's spelling.
BTCV_LABELS: Mapping[str, int] = {
    "spleen": 1,
    "kidney_right": 2,
    "kidney_left": 3,
    "gallbladder": 4,
    "esophagus": 5,
    "liver": 6,
    "stomach": 7,
    "aorta": 8,
    "inferior_vena_cava": 9,
    "portal_vein_and_splenic_vein": 10,
    "pancreas": 11,
    "adrenal_gland_right": 12,
    "adrenal_gland_left": 13,
}

#: Label names that are bone in TotalSegmentator's "total" task (costal cartilage is not).
_BONE_NAME = re.compile(r"^(vertebrae_|rib_|sacrum|humerus|scapula|clavicula|femur|hip_|skull|sternum)")

PRESET_NAMES = ("totalsegmentator", "btcv")


def normalise_name(name: str) -> str:
    """Landmark names are matched lower-case with spaces and hyphens as underscores."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


@dataclass(frozen=True)
class LabelPreset:
    """Maps landmark names to label ids for one segmentation convention.

    ``bone_ids`` is empty when the convention has no bone labels. Bone is found from HU
    by default (the paper's rule); ``bone_ids`` serve the opt-in ``labels`` and
    ``either`` rules (see :func:`eusaug.ct.volume.bone_mask`).
    """

    name: str
    ids: Mapping[str, int]
    bone_ids: frozenset[int] = field(default_factory=frozenset)

    def id_of(self, landmark: str) -> int:
        """The label id of ``landmark``; an unknown name lists the names this preset knows."""
        key = normalise_name(landmark)
        if key not in self.ids:
            hint = did_you_mean(key, self.ids) or f" Known names: {short_list(sorted(self.ids), 15)}."
            raise EusaugError(
                f"Unknown landmark {landmark!r} for label preset {self.name!r}.{hint} Pass one of its "
                f"{len(self.ids)} names (eusaug info --label-preset {self.name} lists those present), "
                "or --label-preset FILE.json with your own map."
            )
        return int(self.ids[key])

    def name_of(self, label_id: int) -> str | None:
        """The landmark name of ``label_id``, or ``None`` when the preset has none."""
        for name, value in self.ids.items():
            if value == label_id:
                return name
        return None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description, written beside outputs so runs are traceable."""
        return {"name": self.name, "ids": dict(self.ids), "bone_ids": sorted(self.bone_ids)}


def _totalsegmentator() -> LabelPreset:
    text = resources.files("eusaug").joinpath("data/totalsegmentator_labels.json").read_text()
    by_id = {int(k): normalise_name(v) for k, v in json.loads(text).items()}
    ids = {name: label_id for label_id, name in by_id.items()}
    bone = frozenset(label_id for label_id, name in by_id.items() if _BONE_NAME.match(name))
    return LabelPreset("totalsegmentator", ids, bone)


def _from_json(path: Path) -> LabelPreset:
    """A user's own preset.

    Accepted forms: ``{"liver": 6, ...}``, ``{"6": "liver", ...}`` (TotalSegmentator's
    file layout), or ``{"labels": {...either form...}, "bone": [ids]}``.
    """
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise EusaugError(f"Label preset file {path} does not exist: check the --label-preset path.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EusaugError(f"Label preset file {path} is not valid JSON ({exc}): fix the file.") from None
    bone: list[int] = []
    if isinstance(raw, dict) and "labels" in raw:
        bone = [int(b) for b in raw.get("bone", [])]
        raw = raw["labels"]
    if not isinstance(raw, dict) or not raw:
        raise EusaugError(
            f"Label preset file {path} must hold a non-empty object such as "
            '{"liver": 6, "stomach": 7}: fix the file.'
        )
    ids: dict[str, int] = {}
    try:
        for key, value in raw.items():
            if isinstance(value, str):
                ids[normalise_name(value)] = int(key)
            else:
                ids[normalise_name(key)] = int(value)
    except (TypeError, ValueError):
        raise EusaugError(
            f"Label preset file {path}: every entry must pair a name with an integer id "
            f"(got {key!r}: {value!r}): fix the file."
        ) from None
    return LabelPreset(path.stem, ids, frozenset(bone))


def get_preset(name_or_path: str | Path | LabelPreset) -> LabelPreset:
    """Resolve ``totalsegmentator``, ``btcv`` or the path of a JSON preset."""
    if isinstance(name_or_path, LabelPreset):
        return name_or_path
    text = str(name_or_path)
    key = normalise_name(text)
    if key == "totalsegmentator":
        return _totalsegmentator()
    if key == "btcv":
        return LabelPreset("btcv", dict(BTCV_LABELS))
    if text.lower().endswith(".json"):
        return _from_json(Path(text))
    if key == "auto":
        raise EusaugError("Label preset 'auto' is chosen from a label map: pass it to load_case, not get_preset.")
    raise EusaugError(
        f"Unknown label preset {text!r}: use auto, {', '.join(PRESET_NAMES)} "
        "or the path of a JSON file mapping names to label ids."
    )
