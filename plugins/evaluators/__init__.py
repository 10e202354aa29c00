"""Bundled evaluators: FID/KID, classifier sweep, McNemar, Grad-CAM."""
