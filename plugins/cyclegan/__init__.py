"""CycleGAN translator plugin (default translator).

CT planes -> synthetic EUS with the CycleGAN of Grimwood et al.: ResNet generators,
70x70 PatchGAN discriminators behind frozen Gaussian denoisers, trained per landmark on
CT planes sliced on the fly and unpaired real EUS frames. TensorFlow is imported only
when the translator is used, so listing plugins stays fast.

``cut`` (contrastive unpaired translation) shares the generator, discriminator, denoiser,
run folder and run loop, with one generator and PatchNCE in place of the cycle.
"""

from __future__ import annotations

from eusaug import hookimpl


@hookimpl
def eusaug_translators() -> list[type]:
    from eusaug_plugins.cyclegan.cut import CUTTranslator
    from eusaug_plugins.cyclegan.hybrid import HybridTranslator
    from eusaug_plugins.cyclegan.translator import CycleGANTranslator

    return [CycleGANTranslator, CUTTranslator, HybridTranslator]
