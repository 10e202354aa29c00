"""Plugins bundled with eusaug, installed as ``eusaug_plugins``.

Each is registered through the ``eusaug`` entry-point group, exactly like a
third-party plugin, and imports only eusaug's public API.
"""
