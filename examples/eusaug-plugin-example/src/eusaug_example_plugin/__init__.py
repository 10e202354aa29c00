"""An example third-party eusaug plugin: the ``edge-echo`` translator."""

__version__ = "0.1.0"
