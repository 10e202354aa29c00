"""CycleGAN translator plugin (default translator)."""
