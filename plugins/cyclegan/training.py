"""The CycleGAN training step: losses, image pools, optimisers, all as TensorFlow graphs.

Domain names are spelled out: ``ct`` (windowed CT planes) and ``eus`` (real frames).
``g_ct2eus`` makes sEUS, ``g_eus2ct`` makes synthetic CT, ``d_eus`` and ``d_ct`` judge
each domain. Losses follow the reference CycleGAN: least-squares GAN, L1 cycle loss
weighted ``cycle_weight``, L1 identity loss weighted ``identity_weight * cycle_weight``,
discriminators trained on a pool of earlier fakes and halved.

Randomness of the step itself (the pools' choices) comes in as arguments drawn by the
data pipeline from the run's seed, so a step is a pure function of its inputs and the
state, and a resumed run repeats an uninterrupted one exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from eusaug_plugins.cyclegan.config import CycleGANConfig
from eusaug_plugins.cyclegan.networks import build_discriminator, build_generator


def choose_strategy(mode: str = "auto", devices: str = "auto") -> tf.distribute.Strategy | None:
    """The distribution strategy for ``mode`` (see ``CycleGANConfig.distribute``) and ``devices``; None: one device."""
    from eusaug.io import choose_placement

    placement = choose_placement(devices, mode)
    return None if placement.kind == "one_device" else placement.strategy


#: Loss names, in the order of ``losses.csv``.
LOSS_NAMES = ("generator", "discriminator", "cycle", "identity")


class ImagePool(tf.Module):
    """The reference CycleGAN's history of generated images, as graph variables.

    Until full, a fake is stored and returned as is. Then, with probability 1/2 (when
    the drawn ``u > 0.5``) it replaces the stored image at the drawn index and that older
    image is returned; otherwise the fake itself is returned.
    """

    def __init__(self, size: int, image_shape: tuple[int, int, int], name: str) -> None:
        super().__init__(name=name)
        self.size = int(size)
        shape = (max(self.size, 1), *image_shape)
        # Under a multi-replica strategy each replica keeps its own pool (written locally,
        # read from the first replica when saved).
        local = {"synchronization": tf.VariableSynchronization.ON_READ,
                 "aggregation": tf.VariableAggregation.ONLY_FIRST_REPLICA}
        self.images = tf.Variable(tf.zeros(shape, tf.float32), trainable=False, name=f"{name}_images", **local)
        self.count = tf.Variable(0, dtype=tf.int32, trainable=False, name=f"{name}_count", **local)

    def query(self, fakes: tf.Tensor, uniforms: tf.Tensor, indices: tf.Tensor) -> tf.Tensor:
        """``fakes`` ``(B, H, W, C)``, ``uniforms`` ``(B,)`` in [0, 1), ``indices`` ``(B,)`` in [0, size)."""
        if self.size == 0:
            return fakes
        out = []
        for b in range(fakes.shape[0]):
            image = fakes[b]
            count = self.count.read_value()
            filling = count < self.size
            swap = tf.logical_and(tf.logical_not(filling), uniforms[b] > 0.5)
            slot = tf.where(filling, count, indices[b])
            old = tf.identity(self.images[slot])
            out.append(tf.where(swap, old, image))
            new = tf.where(tf.logical_or(filling, swap), image, old)
            # (a whole-buffer assign: per-replica variables have no scatter update)
            self.images.assign(tf.tensor_scatter_nd_update(self.images.read_value(), [[slot]], new[None]))
            self.count.assign(tf.minimum(count + 1, self.size))
        return tf.stack(out)

    def state(self) -> list[tf.Variable]:
        return [self.images, self.count]


def _mse(x: tf.Tensor, target: float) -> tf.Tensor:
    return tf.reduce_mean(tf.square(tf.cast(x, tf.float32) - target))


def _l1(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.abs(tf.cast(x, tf.float32) - tf.cast(y, tf.float32)))


@dataclass
class Denoisers:
    """The frozen denoisers in front of ``d_ct`` and ``d_eus`` (None: switched off)."""

    ct: keras.Model | None = None
    eus: keras.Model | None = None


class CycleGAN:
    """Four networks, two optimisers, two pools, and the compiled train/eval steps.

    With a ``tf.distribute`` ``strategy`` of several replicas (e.g. ``MirroredStrategy``
    over the visible GPUs) every replica trains on ``config.batch_size`` images per step,
    gradients are averaged across replicas, and each replica keeps its own image pools.
    Feed it batches of :attr:`global_batch_size` through :meth:`distribute`.
    """

    #: The columns of ``losses.csv``, in order.
    loss_names: tuple[str, ...] = LOSS_NAMES
    #: Both discriminators get a denoiser in front (when the config asks for them).
    denoised_domains: tuple[str, ...] = ("ct", "eus")

    def __init__(self, config: CycleGANConfig, denoisers: Denoisers | None = None,
                 strategy: tf.distribute.Strategy | None = None) -> None:
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = int(self.strategy.num_replicas_in_sync)
        size, dtype, seed = config.image_size_px, config.dtype_policy, config.seed
        with self.strategy.scope():
            self.g_ct2eus = build_generator(size, config.ngf, config.n_blocks, dtype=dtype, seed=seed,
                                            name="g_ct2eus", upsample=config.upsample)
            self.g_eus2ct = build_generator(size, config.ngf, config.n_blocks, dtype=dtype, seed=seed + 1,
                                            name="g_eus2ct", upsample=config.upsample)
            self.d_eus = build_discriminator(size, config.ndf, config.n_disc_layers, dtype=dtype, seed=seed,
                                             name="d_eus")
            self.d_ct = build_discriminator(size, config.ndf, config.n_disc_layers, dtype=dtype, seed=seed + 1,
                                            name="d_ct")
            self.opt_g = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, name="adam_g")
            self.opt_d = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, name="adam_d")
            self.opt_g.build(self.generator_variables)
            self.opt_d.build(self.discriminator_variables)
            shape = (size, size, 1)
            self.pool_eus = ImagePool(config.pool_size, shape, "pool_eus")
            self.pool_ct = ImagePool(config.pool_size, shape, "pool_ct")
        self.denoisers = denoisers or Denoisers()
        jit = config.jit_compile
        if self.replicas == 1:
            batch = config.batch_size
            image = tf.TensorSpec((batch, size, size, 1), tf.float32)
            draws = tf.TensorSpec((batch, 2), tf.float32)
            slots = tf.TensorSpec((batch, 2), tf.int32)
            self.train_step = tf.function(self._train_step, input_signature=[image, image, draws, slots],
                                          jit_compile=jit)
            self.eval_step = tf.function(self._eval_step, input_signature=[image, image], jit_compile=jit)
        else:
            self.train_step = tf.function(self._replicated(self._train_step))
            self.eval_step = tf.function(self._replicated(self._eval_step))
        self._translate = tf.function(self._both_ways, reduce_retracing=True)

    @property
    def global_batch_size(self) -> int:
        """Images per step over all replicas."""
        return self.config.batch_size * self.replicas

    def distribute(self, dataset: tf.data.Dataset) -> Any:
        """``dataset`` (batches of :attr:`global_batch_size`) split over the replicas."""
        if self.replicas == 1:
            return dataset
        # Every worker makes the same batches from the run's seed; each keeps its replicas'
        # shares of every global batch (data sharding: there are no files to split).
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return self.strategy.experimental_distribute_dataset(dataset.with_options(options))

    def _replicated(self, step: Any, extra: Any = None) -> Any:
        """``step`` on every replica, its losses averaged; ``extra()`` (e.g. a seed) is drawn
        once, outside the replicas, and passed to all of them as a last argument."""
        def run(*args: Any) -> dict[str, tf.Tensor]:
            if extra is not None:
                args = (*args, extra())
            per_replica = self.strategy.run(step, args=args)
            return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                    for k, v in per_replica.items()}

        return run

    # -- variables
    @property
    def generator_variables(self) -> list[Any]:
        return self.g_ct2eus.trainable_variables + self.g_eus2ct.trainable_variables

    @property
    def discriminator_variables(self) -> list[Any]:
        return self.d_eus.trainable_variables + self.d_ct.trainable_variables

    def state_variables(self) -> dict[str, Any]:
        """Every variable a checkpoint must hold, by a stable unique name."""
        named: dict[str, Any] = {}
        # Keras paths are unique within one model or optimiser only: prefix and number them.
        for model in (self.g_ct2eus, self.g_eus2ct, self.d_eus, self.d_ct):
            for i, v in enumerate(model.weights):
                named[f"{model.name}/{i:03d}/{v.path}"] = v
        for opt in (self.opt_g, self.opt_d):
            for i, v in enumerate(opt.variables):
                named[f"{opt.name}/{i:03d}/{v.name}"] = v
        for pool in (self.pool_eus, self.pool_ct):
            for v in pool.state():
                named[f"pool/{v.name.split(':')[0]}"] = v
        return named

    def set_learning_rate(self, value: float) -> None:
        self.opt_g.learning_rate.assign(value)
        self.opt_d.learning_rate.assign(value)

    @property
    def learning_rate(self) -> float:
        return float(np.asarray(self.opt_g.learning_rate))

    @property
    def step_count(self) -> int:
        return int(np.asarray(self.opt_g.iterations))

    # -- the graphs
    def _judge(self, discriminator: keras.Model, denoiser: keras.Model | None, images: tf.Tensor) -> tf.Tensor:
        if denoiser is not None:
            images = denoiser(images, training=False)
        return discriminator(images, training=True)

    def _generator_losses(self, ct: tf.Tensor, eus: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
        cfg = self.config
        batch = tf.shape(ct)[0]
        with_identity = cfg.identity_weight > 0
        # Each generator sees its own domain's fake input and, for the identity loss, the
        # other real image: one call on a doubled batch instead of two (instance norm is
        # per image, so the result is the same).
        if with_identity:
            g_out = self.g_ct2eus(tf.concat([ct, eus], 0), training=True)
            f_out = self.g_eus2ct(tf.concat([eus, ct], 0), training=True)
            fake_eus, same_eus = g_out[:batch], g_out[batch:]
            fake_ct, same_ct = f_out[:batch], f_out[batch:]
        else:
            fake_eus = self.g_ct2eus(ct, training=True)
            fake_ct = self.g_eus2ct(eus, training=True)
        rec_ct = self.g_eus2ct(fake_eus, training=True)
        rec_eus = self.g_ct2eus(fake_ct, training=True)
        adversarial = _mse(self._judge(self.d_eus, self.denoisers.eus, fake_eus), 1.0) + _mse(
            self._judge(self.d_ct, self.denoisers.ct, fake_ct), 1.0
        )
        cycle = cfg.cycle_weight * (_l1(rec_ct, ct) + _l1(rec_eus, eus))
        if with_identity:
            identity = cfg.identity_weight * cfg.cycle_weight * (_l1(same_eus, eus) + _l1(same_ct, ct))
        else:
            identity = tf.constant(0.0)
        losses = {"generator": adversarial, "cycle": cycle, "identity": identity}
        return losses, fake_eus, fake_ct

    def _real_fake_loss(self, discriminator: keras.Model, denoiser: keras.Model | None, real: tf.Tensor,
                        fake: tf.Tensor) -> tf.Tensor:
        """0.5 * (LSGAN(real, 1) + LSGAN(fake, 0)), with real and fake judged in one call."""
        scores = self._judge(discriminator, denoiser, tf.concat([real, fake], 0))
        batch = tf.shape(real)[0]
        return 0.5 * (_mse(scores[:batch], 1.0) + _mse(scores[batch:], 0.0))

    def _discriminator_loss(self, real_ct: tf.Tensor, real_eus: tf.Tensor, fake_ct: tf.Tensor,
                            fake_eus: tf.Tensor) -> tf.Tensor:
        return (self._real_fake_loss(self.d_eus, self.denoisers.eus, real_eus, fake_eus)
                + self._real_fake_loss(self.d_ct, self.denoisers.ct, real_ct, fake_ct))

    def _train_step(self, ct: tf.Tensor, eus: tf.Tensor, pool_draws: tf.Tensor,
                    pool_slots: tf.Tensor) -> dict[str, tf.Tensor]:
        g_vars = self.generator_variables
        with tf.GradientTape() as tape:
            losses, fake_eus, fake_ct = self._generator_losses(ct, eus)
            total = losses["generator"] + losses["cycle"] + losses["identity"]
            # Each loss is a mean over this replica's images and every replica has as many
            # (the data drops the last partial global batch), so dividing by the replicas
            # makes the summed gradients those of the mean over the global batch (what
            # tf.nn.compute_average_loss does with per-example losses).
            total = total / self.replicas
        self.opt_g.apply_gradients(zip(tape.gradient(total, g_vars), g_vars))
        pooled_eus = self.pool_eus.query(tf.stop_gradient(fake_eus), pool_draws[:, 0], pool_slots[:, 0])
        pooled_ct = self.pool_ct.query(tf.stop_gradient(fake_ct), pool_draws[:, 1], pool_slots[:, 1])
        d_vars = self.discriminator_variables
        with tf.GradientTape() as tape:
            d_loss = self._discriminator_loss(ct, eus, pooled_ct, pooled_eus)
            d_scaled = d_loss / self.replicas
        self.opt_d.apply_gradients(zip(tape.gradient(d_scaled, d_vars), d_vars))
        return {**losses, "discriminator": d_loss}

    def _eval_step(self, ct: tf.Tensor, eus: tf.Tensor) -> dict[str, tf.Tensor]:
        losses, fake_eus, fake_ct = self._generator_losses(ct, eus)
        return {**losses, "discriminator": self._discriminator_loss(ct, eus, fake_ct, fake_eus)}

    def _both_ways(self, ct: tf.Tensor, eus: tf.Tensor) -> tuple[tf.Tensor, ...]:
        fake_eus = self.g_ct2eus(ct, training=False)
        fake_ct = self.g_eus2ct(eus, training=False)
        return fake_eus, self.g_eus2ct(fake_eus, training=False), fake_ct, self.g_ct2eus(fake_ct, training=False)

    def cycle_images(self, ct: np.ndarray, eus: np.ndarray) -> dict[str, np.ndarray]:
        """For the sample grid: ``(N, H, W)`` sEUS, reconstructed CT, sCT, reconstructed EUS."""
        outs = self._translate(tf.constant(ct[..., None]), tf.constant(eus[..., None]))
        names = ("fake_eus", "rec_ct", "fake_ct", "rec_eus")
        return {k: np.asarray(v)[..., 0] for k, v in zip(names, outs)}

    def sample_rows(self, ct: np.ndarray, eus: np.ndarray) -> list[tuple[tuple[str, np.ndarray], ...]]:
        """The sample grid's rows for ``(N, H, W)`` inputs: per pair (CT, sEUS, rec. CT) and (EUS, sCT, rec. EUS)."""
        out = self.cycle_images(ct, eus)
        rows = []
        for k in range(len(ct)):
            rows.append((("CT plane", ct[k]), ("sEUS", out["fake_eus"][k]), ("reconstructed CT", out["rec_ct"][k])))
            rows.append((("EUS", eus[k]), ("sCT", out["fake_ct"][k]), ("reconstructed EUS", out["rec_eus"][k])))
        return rows
