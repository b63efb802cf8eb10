"""Embedded synthetic modulation set: I/Q frames of 8 modulations, -20 to 30 dB.

Generated in memory from a seed in seconds; nothing is downloaded. It
imitates the kind of data in RadioML 2018.01A at a smaller scale:

* digital: BPSK, QPSK, 8PSK, 16QAM, 64QAM with root-raised-cosine pulse
  shaping (roll-off 0.35, span 8 symbols) at 2, 3 or 4 samples per symbol,
  so the symbols fill 34-68% of the band and shortening a frame loses
  them (version 1 used 4 to 8, and a CNN pooled to a tenth of the length
  classified as well as the full one);
  GFSK (Gaussian filter BT 0.5, modulation index 0.5);
* analog: AM (double sideband with carrier, modulation depth 0.3-0.9) and FM
  (deviation 0.05-0.15 cycles/sample) of a random band-limited message;
* every frame gets a random carrier frequency offset (|f| <= 0.01
  cycles/sample), a random phase, unit average power, then complex AWGN at
  an SNR drawn from -10 to 30 dB in 2 dB steps (21 levels, balanced;
  version 1 went down to -20 dB, where every model is at chance, which
  only dilutes differences between models).

Frames are `(N, length, 2)` float32 (I and Q as channels, as in RadioML),
labels int32, SNR in dB int32.

Example:

>>> x, y, snr = generate_modulations(168, length=128, seed=0)
>>> x.shape, sorted(set(snr.tolist()))[:3]
((168, 128, 2), [-10, -8, -6])
"""

import functools

import numpy as np

MODULATION_CLASSES = ("BPSK", "QPSK", "8PSK", "16QAM", "64QAM", "GFSK", "AM", "FM")
SNR_LEVELS = tuple(range(-10, 31, 2))
SAMPLES_PER_SYMBOL = (2, 3, 4)  # wideband: the symbols fill most of the band
ROLL_OFF = 0.35
FILTER_SPAN = 8  # symbols
MAX_FREQUENCY_OFFSET = 0.01  # cycles per sample


def _constellation(name):
    if name.endswith("PSK"):
        order = {"BPSK": 2, "QPSK": 4, "8PSK": 8}[name]
        return np.exp(2j * np.pi * np.arange(order) / order)
    side = {"16QAM": 4, "64QAM": 8}[name]
    levels = np.arange(side) * 2 - (side - 1)
    points = (levels[:, None] + 1j * levels[None, :]).ravel()
    return points / np.sqrt(np.mean(np.abs(points) ** 2))


@functools.lru_cache(maxsize=32)
def rrc_taps(samples_per_symbol, roll_off=ROLL_OFF, span=FILTER_SPAN):
    """Root-raised-cosine filter taps with unit energy."""
    t = np.arange(-span * samples_per_symbol / 2, span * samples_per_symbol / 2 + 1)
    t = t / samples_per_symbol
    taps = np.empty_like(t)
    for i, ti in enumerate(t):
        if abs(ti) < 1e-9:
            taps[i] = 1 - roll_off + 4 * roll_off / np.pi
        elif abs(abs(4 * roll_off * ti) - 1) < 1e-9:
            taps[i] = roll_off / np.sqrt(2) * (
                (1 + 2 / np.pi) * np.sin(np.pi / (4 * roll_off))
                + (1 - 2 / np.pi) * np.cos(np.pi / (4 * roll_off))
            )
        else:
            taps[i] = (
                np.sin(np.pi * ti * (1 - roll_off))
                + 4 * roll_off * ti * np.cos(np.pi * ti * (1 + roll_off))
            ) / (np.pi * ti * (1 - (4 * roll_off * ti) ** 2))
    return taps / np.sqrt(np.sum(taps**2))


def _upsample(symbols, samples_per_symbol):
    out = np.zeros(len(symbols) * samples_per_symbol, complex)
    out[::samples_per_symbol] = symbols
    return out


def _linear_modulation(name, length, samples_per_symbol, rng):
    points = _constellation(name)
    num_symbols = length // samples_per_symbol + FILTER_SPAN + 2
    symbols = rng.choice(points, num_symbols)
    shaped = np.convolve(_upsample(symbols, samples_per_symbol), rrc_taps(samples_per_symbol))
    delay = FILTER_SPAN * samples_per_symbol  # past the filter's start-up
    start = rng.integers(delay, delay + samples_per_symbol)
    return shaped[start : start + length]


def _gfsk(length, samples_per_symbol, rng, bt=0.5, index=0.5):
    num_symbols = length // samples_per_symbol + 4
    bits = rng.integers(0, 2, num_symbols) * 2 - 1
    nrz = np.repeat(bits, samples_per_symbol).astype(float)
    t = np.arange(-2 * samples_per_symbol, 2 * samples_per_symbol + 1) / samples_per_symbol
    sigma = np.sqrt(np.log(2)) / (2 * np.pi * bt)
    gaussian = np.exp(-(t**2) / (2 * sigma**2))
    frequency = np.convolve(nrz, gaussian / gaussian.sum(), mode="same")
    phase = np.pi * index * np.cumsum(frequency) / samples_per_symbol
    start = rng.integers(0, samples_per_symbol)
    return np.exp(1j * phase[start : start + length])


def _message(length, rng):
    """A random band-limited message in [-1, 1] (sum of three slow tones)."""
    t = np.arange(length)
    frequencies = rng.uniform(0.002, 0.03, 3)
    phases = rng.uniform(0, 2 * np.pi, 3)
    message = np.sum(np.cos(2 * np.pi * frequencies[:, None] * t + phases[:, None]), 0)
    return message / np.max(np.abs(message))


def modulate(name, length, rng):
    """One clean complex baseband frame of modulation `name` (before channel)."""
    samples_per_symbol = int(rng.choice(SAMPLES_PER_SYMBOL))
    if name in ("BPSK", "QPSK", "8PSK", "16QAM", "64QAM"):
        return _linear_modulation(name, length, samples_per_symbol, rng)
    if name == "GFSK":
        return _gfsk(length, samples_per_symbol, rng)
    message = _message(length, rng)
    if name == "AM":
        return (1 + rng.uniform(0.3, 0.9) * message).astype(complex)
    deviation = rng.uniform(0.05, 0.15)  # FM
    return np.exp(2j * np.pi * deviation * np.cumsum(message))


def channel(signal, snr_db, rng):
    """Carrier offset, random phase, unit power, complex AWGN at `snr_db`."""
    n = np.arange(len(signal))
    offset = rng.uniform(-MAX_FREQUENCY_OFFSET, MAX_FREQUENCY_OFFSET)
    signal = signal * np.exp(1j * (2 * np.pi * offset * n + rng.uniform(0, 2 * np.pi)))
    signal = signal / np.sqrt(np.mean(np.abs(signal) ** 2))
    noise_power = 10.0 ** (-snr_db / 10.0)
    noise = rng.normal(0, np.sqrt(noise_power / 2), (2, len(signal)))
    return signal + noise[0] + 1j * noise[1]


def generate_modulations(num_examples, length=128, seed=0):
    """`num_examples` frames, balanced over classes and SNR levels, shuffled.

    Args:
        num_examples: Number of frames.
        length: Samples per frame (RadioML 2018.01A uses 1024).
        seed: Random seed; the same seed gives the same frames.

    Returns:
        `(x, y, snr)`: float32 `(N, length, 2)`, int32 labels, int32 SNR (dB).
    """
    rng = np.random.default_rng(seed)
    cells = len(MODULATION_CLASSES) * len(SNR_LEVELS)
    cell = rng.permutation(np.arange(num_examples) % cells)
    labels = (cell % len(MODULATION_CLASSES)).astype("int32")
    snr = np.asarray(SNR_LEVELS, "int32")[cell // len(MODULATION_CLASSES)]
    frames = np.empty((num_examples, length, 2), "float32")
    for i, (label, level) in enumerate(zip(labels, snr)):
        iq = channel(modulate(MODULATION_CLASSES[label], length, rng), level, rng)
        frames[i, :, 0], frames[i, :, 1] = iq.real, iq.imag
    return frames, labels, snr
