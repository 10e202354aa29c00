"""The CycleGAN's networks as plain Keras 3 layers, so exported models load in safe mode.

The architecture follows the reference CycleGAN (Zhu et al. 2017): a ResNet generator
(reflection padding, instance normalisation, two stride-2 downsamplings, residual blocks,
two transposed-convolution upsamplings, tanh) and a 70x70 PatchGAN discriminator.
Weights start from N(0, 0.02) as there. Every custom layer has ``get_config`` and is
registered under the ``eusaug`` package; no Lambda layers.

Mixed precision: layers take a dtype policy (``"mixed_bfloat16"`` or ``"float32"``);
instance statistics and the network outputs are always float32.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

INIT_STD = 0.02


@keras.saving.register_keras_serializable(package="eusaug")
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by ``padding`` pixels, mirroring the border (no edge artefacts)."""

    def __init__(self, padding: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        p = self.padding
        if training:
            return ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")
        # Inference: the mirrored borders concatenated on, the same values 2-3x faster than the
        # MirrorPad kernel on CPU; in training MirrorPad stays, its gradient being the faster one.
        rows = ops.concatenate([ops.flip(inputs[:, 1 : p + 1], 1), inputs, ops.flip(inputs[:, -p - 1 : -1], 1)], 1)
        return ops.concatenate([ops.flip(rows[:, :, 1 : p + 1], 2), rows, ops.flip(rows[:, :, -p - 1 : -1], 2)], 2)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        n, h, w, c = input_shape
        grow = 2 * self.padding
        return (n, None if h is None else h + grow, None if w is None else w + grow, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding}


def instance_norm(inputs: Any, epsilon: float = 1e-5) -> Any:
    """``(x - mean) / sqrt(var + epsilon)`` per image and channel over height and width.

    Computed by TensorFlow's fused batch-norm kernel in training mode, which normalises each
    channel over batch, height and width in one pass with float32 statistics, forward and
    backward (``FusedBatchNormV3`` and its gradient, on oneDNN, Eigen and cuDNN alike). An
    instance norm is a batch norm of one image, so a batch ``(B, H, W, C)`` is laid out as
    one image of ``B * C`` channels (a transpose each way; none when B is 1). Instance norm
    is the largest memory-bound part of the generator (a quarter of its CPU time); the fused
    kernel takes it 1.8-3.5x faster than reductions written op by op (benchmarks/bench_cyclegan.py
    shows the whole step). Output in the input's dtype.
    """
    import tensorflow as tf

    def normalise(x: Any) -> Any:
        channels = tf.shape(x)[-1]
        ones, zeros = tf.ones([channels], tf.float32), tf.zeros([channels], tf.float32)
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, ones, zeros, epsilon=epsilon, is_training=True)
        return y

    if inputs.shape[0] == 1:
        return normalise(inputs)
    shape = tf.shape(inputs)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    one_image = tf.reshape(tf.transpose(inputs, [1, 2, 0, 3]), tf.stack([1, height, width, batch * channels]))
    y = tf.reshape(normalise(one_image), tf.stack([height, width, batch, channels]))
    return tf.transpose(y, [2, 0, 1, 3])


def instance_norm_inference(inputs: Any, epsilon: float = 1e-5) -> Any:
    """:func:`instance_norm` with reductions written out, in float32, for float32 inference:
    without a gradient to compute they beat the fused kernel and its transposes there (the
    `fast` generator translated 15.7 -> 18.2 images/s, batch 8, AMD EPYC with AVX2), and give
    the same values to the bit. In bfloat16 the fused kernel stays: the casts cost more than
    the transposes (it made the generator 1.14x faster on an AMD EPYC with AVX-512 BF16)."""
    import tensorflow as tf

    x = tf.cast(inputs, tf.float32)
    mean, variance = tf.nn.moments(x, [1, 2], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + epsilon)


@keras.saving.register_keras_serializable(package="eusaug")
class InstanceNormalization(layers.Layer):
    """Normalises each image's channels over height and width (statistics in float32).

    ``affine=False`` by default, as the reference CycleGAN's ``InstanceNorm2d``. See
    :func:`instance_norm` for the fused kernel that computes it.
    """

    def __init__(self, epsilon: float = 1e-5, affine: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.affine = bool(affine)

    def build(self, input_shape: tuple) -> None:
        if self.affine:
            channels = input_shape[-1]
            self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
            self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        fused = training or self.compute_dtype != "float32"
        y = instance_norm(inputs, self.epsilon) if fused else instance_norm_inference(inputs, self.epsilon)
        if self.affine:
            y = ops.cast(y, "float32") * ops.cast(self.gamma, "float32") + ops.cast(self.beta, "float32")
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon, "affine": self.affine}


@keras.saving.register_keras_serializable(package="eusaug")
class MaxLeakyReLU(layers.Layer):
    """``max(x, slope * x)``: LeakyReLU written so TensorFlow does not fuse it into the conv.

    Grappler's remapper fuses Conv2D + BiasAdd + LeakyRelu and then fails on the
    gradient graph (which still needs the BiasAdd output); that failure switches off
    every other fusion of the training step. This form keeps them.
    """

    def __init__(self, negative_slope: float = 0.2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)

    def call(self, inputs: Any) -> Any:
        return ops.maximum(inputs, inputs * self.negative_slope)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class _Seeds:
    """Hands out a distinct initialiser seed per layer, so a seeded build is reproducible."""

    def __init__(self, seed: int) -> None:
        self.next = int(seed) * 1000

    def init(self) -> keras.initializers.Initializer:
        self.next += 1
        return keras.initializers.RandomNormal(0.0, INIT_STD, seed=self.next)


def _conv(x: Any, filters: int, kernel: int, stride: int, seeds: _Seeds, dtype: str, name: str,
          padding: str = "valid") -> Any:
    return layers.Conv2D(filters, kernel, strides=stride, padding=padding, kernel_initializer=seeds.init(),
                         dtype=dtype, name=name)(x)


def _norm_relu(x: Any, dtype: str, name: str) -> Any:
    x = InstanceNormalization(dtype=dtype, name=f"{name}_norm")(x)
    return layers.ReLU(dtype=dtype, name=f"{name}_relu")(x)


@keras.saving.register_keras_serializable(package="eusaug")
class ResidualAdd(layers.Add):
    """``x + block(x)``; a named subclass so the graph reads as the reference's ResnetBlock."""


def build_generator(
    image_size_px: int | None = None,
    ngf: int = 64,
    n_blocks: int = 9,
    channels: int = 1,
    dtype: str = "float32",
    seed: int = 0,
    name: str = "generator",
    upsample: str = "transpose",
) -> keras.Model:
    """ResNet generator: ``(B, H, W, channels)`` in [-1, 1] -> same shape, float32 in [-1, 1].

    ``H`` and ``W`` must be multiples of 4; ``image_size_px=None`` leaves them free.
    ``upsample``: ``"transpose"`` (3x3 stride-2 transposed convolutions, the reference) or
    ``"resize"`` (nearest-neighbour x2, reflection pad 1, 3x3 convolution): each output
    pixel of a stride-2 transposed 3x3 convolution sums 1, 2 or 4 kernel taps depending on
    its position, which paints a 2-pixel checkerboard; a resize-convolution treats every
    pixel alike.
    """
    if upsample not in ("transpose", "resize"):
        raise ValueError(f"upsample={upsample!r}: use 'transpose' or 'resize'")
    seeds = _Seeds(seed)
    inputs = keras.Input((image_size_px, image_size_px, channels), name="image")
    x = ReflectionPadding2D(3, dtype=dtype, name="pad_in")(inputs)
    x = _conv(x, ngf, 7, 1, seeds, dtype, "conv_in")
    x = _norm_relu(x, dtype, "conv_in")
    for i, mult in enumerate((2, 4)):
        x = _conv(x, ngf * mult, 3, 2, seeds, dtype, f"down{i}", padding="same")
        x = _norm_relu(x, dtype, f"down{i}")
    for b in range(n_blocks):
        y = ReflectionPadding2D(1, dtype=dtype, name=f"block{b}_pad0")(x)
        y = _conv(y, ngf * 4, 3, 1, seeds, dtype, f"block{b}_conv0")
        y = _norm_relu(y, dtype, f"block{b}_0")
        y = ReflectionPadding2D(1, dtype=dtype, name=f"block{b}_pad1")(y)
        y = _conv(y, ngf * 4, 3, 1, seeds, dtype, f"block{b}_conv1")
        y = InstanceNormalization(dtype=dtype, name=f"block{b}_1_norm")(y)
        x = ResidualAdd(dtype=dtype, name=f"block{b}_add")([x, y])
    for i, mult in enumerate((2, 1)):
        if upsample == "resize":
            x = layers.UpSampling2D(2, interpolation="nearest", dtype=dtype, name=f"up{i}_resize")(x)
            x = ReflectionPadding2D(1, dtype=dtype, name=f"up{i}_pad")(x)
            x = _conv(x, ngf * mult, 3, 1, seeds, dtype, f"up{i}")
        else:
            x = layers.Conv2DTranspose(ngf * mult, 3, strides=2, padding="same", kernel_initializer=seeds.init(),
                                       dtype=dtype, name=f"up{i}")(x)
        x = _norm_relu(x, dtype, f"up{i}")
    x = ReflectionPadding2D(3, dtype=dtype, name="pad_out")(x)
    x = _conv(x, channels, 7, 1, seeds, dtype, "conv_out")
    outputs = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name)


def build_discriminator(
    image_size_px: int | None = None,
    ndf: int = 64,
    n_layers: int = 3,
    channels: int = 1,
    dtype: str = "float32",
    seed: int = 0,
    name: str = "discriminator",
) -> keras.Model:
    """PatchGAN: ``(B, H, W, channels)`` -> ``(B, h, w, 1)`` float32 real/fake scores.

    With ``n_layers=3`` each score sees a 70x70 pixel patch; a 256 image gives 30x30 scores.
    """
    seeds = _Seeds(seed + 500)
    inputs = keras.Input((image_size_px, image_size_px, channels), name="image")
    x = layers.ZeroPadding2D(1, dtype=dtype, name="pad0")(inputs)
    x = _conv(x, ndf, 4, 2, seeds, dtype, "conv0")
    x = MaxLeakyReLU(0.2, dtype=dtype, name="conv0_lrelu")(x)
    mult = 1
    for i in range(1, n_layers + 1):
        mult = min(2**i, 8)
        stride = 2 if i < n_layers else 1
        x = layers.ZeroPadding2D(1, dtype=dtype, name=f"pad{i}")(x)
        x = _conv(x, ndf * mult, 4, stride, seeds, dtype, f"conv{i}")
        x = InstanceNormalization(dtype=dtype, name=f"conv{i}_norm")(x)
        x = layers.LeakyReLU(0.2, dtype=dtype, name=f"conv{i}_lrelu")(x)
    x = layers.ZeroPadding2D(1, dtype=dtype, name="pad_out")(x)
    x = _conv(x, 1, 4, 1, seeds, dtype, "conv_out")
    outputs = layers.Activation("linear", dtype="float32", name="score")(x)
    return keras.Model(inputs, outputs, name=name)
