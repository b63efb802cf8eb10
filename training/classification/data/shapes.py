"""Embedded multi-scale image classification set: shapes and textures, 32x32.

Generated in memory from a seed in about a second; nothing is downloaded.
Ten classes in two families, so that where a network spends resolution
shows in its accuracy:

* five shapes (disc, square, triangle, ring, cross) whose size is drawn
  log-uniformly from 5 to 28 pixels: small shapes need resolution, large
  ones survive heavy downsampling;
* five textures filling a square patch 14 to 32 pixels wide (horizontal,
  vertical and diagonal stripes, checkerboard, dot grid) with periods of 2
  to 7 pixels: fine periods alias or vanish when the map is shrunk, coarse
  ones do not.

Version 2 (issue 10): object and background are two grey levels 0.6 to 1.0
apart with one small common colour tint, so the class is in the form, not
the colour, and a small ResNet learns it in a few epochs; texture patches
are large enough to be seen (version 1 drew them 5 to 28 pixels wide, with
random colours, and its seed-to-seed spread was 5-10 accuracy points).
Gaussian pixel noise (std 0.05) is added. Pixel values are returned in
[-1, 1], shape `(N, 32, 32, 3)`.

Example:

>>> x, y = generate_shapes(100, seed=0)
>>> x.shape, y.shape
((100, 32, 32, 3), (100,))
"""

import numpy as np

SHAPE_CLASSES = (
    "disc",
    "square",
    "triangle",
    "ring",
    "cross",
    "h_stripes",
    "v_stripes",
    "d_stripes",
    "checker",
    "dots",
)
IMAGE_SIZE = 32
MIN_OBJECT, MAX_OBJECT = 5.0, 28.0
MIN_PATCH, MAX_PATCH = 14.0, 32.0
MIN_PERIOD, MAX_PERIOD = 2, 7
MIN_CONTRAST, MAX_CONTRAST = 0.6, 1.0
MAX_TINT = 0.15
NOISE_STD = 0.05


def _shape_mask(label, u, v, radius, rng):
    """Boolean mask of shape `label` on coordinates (u, v) centred at 0."""
    if label == 0:  # disc
        return u**2 + v**2 <= radius**2
    if label == 1:  # square, random rotation
        angle = rng.uniform(0, np.pi / 2)
        a = np.cos(angle) * u + np.sin(angle) * v
        b = -np.sin(angle) * u + np.cos(angle) * v
        half = radius / np.sqrt(2) * 1.1
        return (np.abs(a) <= half) & (np.abs(b) <= half)
    if label == 2:  # triangle, random rotation
        angle = rng.uniform(0, 2 * np.pi)
        inside = np.ones(u.shape, bool)
        for corner in range(3):
            theta = angle + 2 * np.pi * corner / 3
            inside &= np.cos(theta) * u + np.sin(theta) * v <= radius / 2
        return inside
    if label == 3:  # ring
        r2 = u**2 + v**2
        return (r2 <= radius**2) & (r2 >= (0.55 * radius) ** 2)
    # cross (plus sign), bar width a third of the size
    half_width = max(radius / 3, 0.5)
    return ((np.abs(u) <= half_width) & (np.abs(v) <= radius)) | (
        (np.abs(v) <= half_width) & (np.abs(u) <= radius)
    )


def _texture_mask(label, rows, cols, period, rng):
    """Boolean texture pattern of class `label` on pixel coordinates."""
    phase = rng.integers(0, period)
    half = max(period // 2, 1)
    if label == 5:
        return (rows + phase) % period < half
    if label == 6:
        return (cols + phase) % period < half
    if label == 7:  # either diagonal, so horizontal flips keep the class
        direction = rng.choice([-1, 1])
        return (rows + direction * cols + phase) % period < half
    if label == 8:
        return ((rows // half) + (cols // half)) % 2 == 0
    dot = max(period // 3, 1)  # dot grid
    return ((rows + phase) % period < dot) & ((cols + phase) % period < dot)


def _levels(rng):
    """Background and foreground colours: a grey level each, at least
    `MIN_CONTRAST` apart, plus one small common tint."""
    background = rng.uniform(-0.8, 0.8)
    contrast = rng.uniform(MIN_CONTRAST, MAX_CONTRAST)
    signs = [s for s in (-1, 1) if -1 <= background + s * contrast <= 1]
    foreground = background + rng.choice(signs) * contrast
    tint = rng.uniform(-MAX_TINT, MAX_TINT, 3)
    return background + tint, foreground + tint


def draw_image(label, rng, size=IMAGE_SIZE):
    """One RGB image of class `label`, float values in [-1, 1]."""
    rows, cols = np.mgrid[0:size, 0:size].astype("float32")
    background, foreground = _levels(rng)
    if label < 5:
        extent = np.exp(rng.uniform(np.log(MIN_OBJECT), np.log(MAX_OBJECT)))
    else:
        extent = rng.uniform(MIN_PATCH, MAX_PATCH)
    radius = extent / 2
    centre = rng.uniform(radius, size - radius, 2) if extent < size else (
        np.full(2, size / 2)
    )
    u, v = rows - centre[0] + 0.5, cols - centre[1] + 0.5
    if label < 5:
        mask = _shape_mask(label, u, v, radius, rng)
    else:
        period = int(rng.integers(MIN_PERIOD, MAX_PERIOD + 1))
        patch = (np.abs(u) <= radius) & (np.abs(v) <= radius)
        pattern = _texture_mask(label, rows.astype(int), cols.astype(int), period, rng)
        mask = patch & pattern
    image = np.where(mask[..., None], foreground, background)
    image = image + rng.normal(0, NOISE_STD, image.shape)
    return np.clip(image, -1, 1).astype("float32")


def generate_shapes(num_examples, seed=0, size=IMAGE_SIZE):
    """`num_examples` images with balanced, shuffled labels.

    Args:
        num_examples: Number of images.
        seed: Random seed; the same seed gives the same images.
        size: Side of the square images.

    Returns:
        `(x, y)`: float32 `(N, size, size, 3)` in [-1, 1], int32 labels.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(num_examples) % len(SHAPE_CLASSES))
    images = np.stack([draw_image(int(label), rng, size) for label in labels])
    return images, labels.astype("int32")
