"""CUT's networks and training step (contrastive unpaired translation, Park et al. 2020).

One generator ``g_ct2eus`` (the CycleGAN's ResNet generator) and one PatchGAN ``d_eus``
(behind the frozen EUS denoiser, as the paper's CycleGAN). Instead of a second generator
and the cycle loss, PatchNCE keeps the content: features of several encoder layers of
the generator, for the CT plane ``x`` and for ``G(x)`` encoded again, go through a small
2-layer projection head per layer; at patch locations sampled per layer (the same for
both), each sEUS patch must pick out the CT patch at its own location among the other
sampled locations of the same image (InfoNCE, temperature ``nce_temperature``). With
``nce_identity`` the same term on real EUS and ``G(EUS)`` keeps the generator from
changing what is already EUS (CUT); FastCUT drops it, weights PatchNCE 10 and may flip
the input at random (``flip_equivariance``). Adversarial loss: least squares, as the
CycleGAN here.

Randomness of the step (patch locations, flips) comes from a ``tf.random.Generator``
seeded with the config's seed whose state is checkpointed, so a resumed run repeats an
uninterrupted one; validation uses fixed locations. The step's draws are made outside
the replicas and handed to all of them: every replica (and worker) samples the same
locations, as one device does for the whole batch.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from eusaug_plugins.cyclegan.config import CUTConfig
from eusaug_plugins.cyclegan.networks import build_discriminator, build_generator
from eusaug_plugins.cyclegan.training import CycleGAN, Denoisers

#: Loss names, in the order of ``losses.csv``.
LOSS_NAMES = ("generator", "discriminator", "nce", "nce_identity")


def patch_nce_loss(queries: tf.Tensor, keys: tf.Tensor, temperature: float) -> tf.Tensor:
    """Mean InfoNCE loss of ``queries`` against ``keys``, both ``(B, N, C)`` unit vectors.

    Query ``i`` of image ``b`` has key ``i`` of image ``b`` as its positive and the other
    ``N - 1`` keys of that image as negatives: cross-entropy of the softmax over
    ``q . k / temperature`` with the matching location as the label, averaged over ``B * N``.
    """
    queries = tf.cast(queries, tf.float32)
    keys = tf.cast(keys, tf.float32)
    logits = tf.matmul(queries, keys, transpose_b=True) / temperature
    shape = tf.shape(logits)
    labels = tf.broadcast_to(tf.range(shape[1])[None], shape[:2])
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))


def build_projection_head(channels: int, units: int, dtype: str = "float32", seed: int = 0,
                          name: str = "nce_head") -> keras.Model:
    """The 2-layer MLP of one encoder layer: ``(..., channels)`` -> ``(..., units)``, not normalised."""
    inputs = keras.Input((None, channels), name="features")
    x = keras.layers.Dense(units, activation="relu", dtype=dtype, name="dense0",
                           kernel_initializer=keras.initializers.GlorotNormal(seed=seed))(inputs)
    x = keras.layers.Dense(units, dtype=dtype, name="dense1",
                           kernel_initializer=keras.initializers.GlorotNormal(seed=seed + 1))(x)
    return keras.Model(inputs, x, name=name)


class CUT(CycleGAN):
    """One generator, one discriminator, a projection head per PatchNCE layer, two optimisers.

    Shares the CycleGAN's learning-rate handling, distribution over replicas and judging
    behind a denoiser (it is built the same way, so the run loop treats both alike).
    """

    loss_names: tuple[str, ...] = LOSS_NAMES
    denoised_domains: tuple[str, ...] = ("eus",)

    def __init__(self, config: CUTConfig, denoisers: Denoisers | None = None,
                 strategy: tf.distribute.Strategy | None = None) -> None:
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = int(self.strategy.num_replicas_in_sync)
        size, dtype, seed = config.image_size_px, config.dtype_policy, config.seed
        with self.strategy.scope():
            self.g_ct2eus = build_generator(size, config.ngf, config.n_blocks, dtype=dtype, seed=seed,
                                            name="g_ct2eus", upsample=config.upsample)
            self.d_eus = build_discriminator(size, config.ndf, config.n_disc_layers, dtype=dtype, seed=seed,
                                             name="d_eus")
            features = [self.g_ct2eus.get_layer(n).output for n in config.nce_layer_names]
            self._positions = [int(f.shape[1]) * int(f.shape[2]) for f in features]
            # Both share the generator's layers: the encoder is its first part, up to the deepest layer.
            self.encoder = keras.Model(self.g_ct2eus.input, features, name="g_ct2eus_encoder")
            self.g_with_features = keras.Model(self.g_ct2eus.input, [self.g_ct2eus.output, *features],
                                               name="g_ct2eus_with_features")
            self.heads = [build_projection_head(int(f.shape[-1]), config.nce_mlp_units, dtype, seed + 10 * i,
                                                name=f"nce_head{i}") for i, f in enumerate(features)]
            self.opt_g = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, name="adam_g")
            self.opt_d = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, name="adam_d")
            self.opt_g.build(self.generator_variables)
            self.opt_d.build(self.discriminator_variables)
        # Outside the strategy's scope: one stream per process, read outside the replicas.
        self.rng = tf.random.Generator.from_seed(seed)
        self.denoisers = denoisers or Denoisers()
        jit = config.jit_compile
        if self.replicas == 1:
            batch = config.batch_size
            image = tf.TensorSpec((batch, size, size, 1), tf.float32)
            draws = tf.TensorSpec((batch, 2), tf.float32)
            slots = tf.TensorSpec((batch, 2), tf.int32)
            self.train_step = tf.function(lambda ct, eus, d, s: self._train_step(ct, eus, d, s, self._draws()),
                                          input_signature=[image, image, draws, slots], jit_compile=jit)
            self.eval_step = tf.function(self._eval_step, input_signature=[image, image], jit_compile=jit)
        else:
            self.train_step = tf.function(self._replicated(self._train_step, self._draws))
            self.eval_step = tf.function(self._replicated(self._eval_step))
        self._translate = tf.function(lambda x: self.g_ct2eus(x, training=False), reduce_retracing=True)

    # -- variables
    @property
    def generator_variables(self) -> list[Any]:
        """The generator's and the projection heads' (one optimiser: Adam is per parameter)."""
        return self.g_ct2eus.trainable_variables + [v for head in self.heads for v in head.trainable_variables]

    @property
    def discriminator_variables(self) -> list[Any]:
        return self.d_eus.trainable_variables

    def state_variables(self) -> dict[str, Any]:
        """Every variable a checkpoint must hold, by a stable unique name."""
        named: dict[str, Any] = {}
        for model in (self.g_ct2eus, self.d_eus, *self.heads):
            for i, v in enumerate(model.weights):
                named[f"{model.name}/{i:03d}/{v.path}"] = v
        for opt in (self.opt_g, self.opt_d):
            for i, v in enumerate(opt.variables):
                named[f"{opt.name}/{i:03d}/{v.name}"] = v
        named["rng/state"] = self.rng.state
        return named

    # -- PatchNCE
    def _draws(self) -> tuple[tf.Tensor, ...]:
        """A training step's random numbers: the flip's (with ``flip_equivariance``), then
        each PatchNCE layer's location scores, in that order from the checkpointed generator."""
        flip = (self.rng.uniform([]),) if self.config.flip_equivariance else ()
        return (*flip, *(self.rng.uniform([n]) for n in self._positions))

    def _patch_ids(self, positions: int, layer: int, scores: tf.Tensor | None) -> tf.Tensor:
        """``min(nce_patches, positions)`` distinct flat locations of one layer's feature map:
        the lowest ``scores`` (None: validation's fixed ones)."""
        count = min(self.config.nce_patches, positions)
        if scores is None:
            scores = tf.random.stateless_uniform([positions], seed=[self.config.seed, layer])
        return tf.argsort(scores)[:count]

    def _project(self, layer: int, features: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
        """``(B, h, w, c)`` features at ``ids`` through the layer's head: ``(B, N, units)`` unit vectors."""
        flat = tf.reshape(features, [tf.shape(features)[0], -1, features.shape[-1]])
        z = tf.cast(self.heads[layer](tf.gather(flat, ids, axis=1), training=True), tf.float32)
        return z / (tf.norm(z, axis=-1, keepdims=True) + 1e-7)

    def _nce(self, sources: list[tf.Tensor], outputs: list[tf.Tensor], batch: int,
             scores: tuple[tf.Tensor, ...] | None) -> tuple[tf.Tensor, tf.Tensor]:
        """PatchNCE averaged over layers: of the first ``batch`` images (CT) and of the rest (EUS identity)."""
        cfg = self.config
        ct_terms, eus_terms = [], []
        for layer, (key_features, query_features) in enumerate(zip(sources, outputs)):
            ids = self._patch_ids(int(key_features.shape[1]) * int(key_features.shape[2]), layer,
                                  None if scores is None else scores[layer])
            keys = tf.stop_gradient(self._project(layer, key_features, ids))
            queries = self._project(layer, query_features, ids)
            ct_terms.append(patch_nce_loss(queries[:batch], keys[:batch], cfg.nce_temperature))
            if cfg.nce_identity:
                eus_terms.append(patch_nce_loss(queries[batch:], keys[batch:], cfg.nce_temperature))
        nce = cfg.nce_weight * tf.add_n(ct_terms) / len(ct_terms)
        identity = cfg.nce_weight * tf.add_n(eus_terms) / len(eus_terms) if eus_terms else tf.constant(0.0)
        return nce, identity

    # -- the graphs
    def _generator_losses(self, ct: tf.Tensor, eus: tf.Tensor,
                          draws: tuple[tf.Tensor, ...] | None = None) -> tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
        """The generator's losses; ``draws``: a training step's (:meth:`_draws`), None: validation's."""
        cfg = self.config
        batch = tf.shape(ct)[0]  # (a replica's share of a batch may have no static size)
        # CT and, for the identity term, real EUS go through the generator as one batch
        # (instance norm is per image, so this equals two calls).
        source = tf.concat([ct, eus], 0) if cfg.nce_identity else ct
        scores = None
        if draws is not None:
            scores = draws[1:] if cfg.flip_equivariance else draws
        if draws is not None and cfg.flip_equivariance:
            flip = draws[0] < 0.5
            out = self.g_ct2eus(tf.where(flip, tf.reverse(source, [2]), source), training=True)
            keys = self.encoder(source, training=True)
            queries = [tf.where(flip, tf.reverse(f, [2]), f) for f in _as_list(self.encoder(out, training=True))]
            keys = _as_list(keys)
        else:
            out, *keys = self.g_with_features(source, training=True)
            queries = _as_list(self.encoder(out, training=True))
        nce, nce_identity = self._nce(keys, queries, batch, scores)
        fake_eus = out[:batch]
        adversarial = _mse(self._judge(self.d_eus, self.denoisers.eus, fake_eus), 1.0)
        losses = {"generator": adversarial, "nce": nce, "nce_identity": nce_identity}
        return losses, fake_eus, out[batch:]

    def _train_step(self, ct: tf.Tensor, eus: tf.Tensor, pool_draws: tf.Tensor,
                    pool_slots: tf.Tensor, draws: tuple[tf.Tensor, ...]) -> dict[str, tf.Tensor]:
        """One step of G (and heads) then D; ``pool_draws``/``pool_slots`` are unused (no pool)."""
        g_vars = self.generator_variables
        with tf.GradientTape() as tape:
            losses, fake_eus, _ = self._generator_losses(ct, eus, draws)
            nce = losses["nce"] + losses["nce_identity"]
            if self.config.nce_identity:
                nce = 0.5 * nce  # the reference averages the two PatchNCE terms
            total = (losses["generator"] + nce) / self.replicas
        self.opt_g.apply_gradients(zip(tape.gradient(total, g_vars), g_vars))
        d_vars = self.discriminator_variables
        with tf.GradientTape() as tape:
            d_loss = self._real_fake_loss(self.d_eus, self.denoisers.eus, eus, tf.stop_gradient(fake_eus))
            d_scaled = d_loss / self.replicas
        self.opt_d.apply_gradients(zip(tape.gradient(d_scaled, d_vars), d_vars))
        return {**losses, "discriminator": d_loss}

    def _eval_step(self, ct: tf.Tensor, eus: tf.Tensor) -> dict[str, tf.Tensor]:
        losses, fake_eus, _ = self._generator_losses(ct, eus)
        return {**losses, "discriminator": self._real_fake_loss(self.d_eus, self.denoisers.eus, eus, fake_eus)}

    def sample_rows(self, ct: np.ndarray, eus: np.ndarray) -> list[tuple[tuple[str, np.ndarray], ...]]:
        """The sample grid's rows for ``(N, H, W)`` inputs: per pair (CT, sEUS) and (EUS, G(EUS))."""
        out = np.asarray(self._translate(tf.constant(np.concatenate([ct, eus])[..., None])))[..., 0]
        n = len(ct)
        rows: list[tuple[tuple[str, np.ndarray], ...]] = []
        for k in range(n):
            rows.append((("CT plane", ct[k]), ("sEUS", out[k])))
            rows.append((("EUS", eus[k]), ("G(EUS)", out[n + k])))
        return rows


def _as_list(features: Any) -> list[tf.Tensor]:
    """A Keras model with one output returns a tensor, with several a list."""
    return list(features) if isinstance(features, (list, tuple)) else [features]


def _mse(x: tf.Tensor, target: float) -> tf.Tensor:
    return tf.reduce_mean(tf.square(tf.cast(x, tf.float32) - target))


__all__ = ["CUT", "LOSS_NAMES", "build_projection_head", "patch_nce_loss"]
