"""Counter-based hashing: splitmix64 over a key and a named salt, vectorised with NumPy.

No sequential random state anywhere, so any row of any day can be computed on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31, _S32 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(32)


def _mix(z: U64) -> U64:
    """The splitmix64 steps, in place on ``z`` (with one scratch array): at millions of keys the
    allocations of the plain expression cost as much as the arithmetic."""
    np.add(z, _GOLDEN, out=z)
    t = np.empty_like(z)
    for shift, mix in ((_S30, _MIX1), (_S27, _MIX2)):
        np.right_shift(z, shift, out=t)
        np.bitwise_xor(z, t, out=z)
        np.multiply(z, mix, out=z)
    np.right_shift(z, _S31, out=t)
    np.bitwise_xor(z, t, out=z)
    return z


def splitmix64(x: U64) -> U64:
    """The splitmix64 finaliser; NumPy wraps uint64 arithmetic modulo 2**64, as the algorithm needs."""
    return _mix(np.array(x, dtype=np.uint64, ndmin=1, copy=True))


@cache
def salt(name: str) -> np.uint64:
    """A stable 64-bit salt for a field name (independent of Python's randomised str hash)."""
    return np.uint64(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little"))


def hash_keys(keys: npt.ArrayLike, name: str, *extra: int | I64) -> U64:
    """Hash each key under the salt ``name``; ``extra`` integers (a day, a version; one per key or one
    for all) are mixed in."""
    k = np.asarray(keys)
    as_unsigned = k.view(np.uint64) if k.dtype == np.int64 else k.astype(np.uint64)  # two's complement, as astype
    h = _mix(np.bitwise_xor(as_unsigned, salt(name)))
    for value in extra:
        np.bitwise_xor(h, np.asarray(value).astype(np.uint64), out=h)
        _mix(h)
    return h


def below(h: U64, n: npt.ArrayLike) -> I64:
    """Map hashes to integers in ``[0, n)`` (n < 2**32) with integer arithmetic only."""
    bound = np.asarray(n).astype(np.uint64)
    out = np.right_shift(h, _S32)
    if bound.ndim == 0 or bound.shape == out.shape:
        np.multiply(out, bound, out=out)
    else:
        out = out * bound
    np.right_shift(out, _S32, out=out)
    return out.view(np.int64)


def unit(h: U64) -> npt.NDArray[np.float64]:
    """Map hashes to floats in ``[0, 1)``: 53 high bits, exact in IEEE double on every machine."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


class _Feistel:
    """A 4-round Feistel network on ``bits``-bit integers, keyed by ``name``."""

    def __init__(self, n: int, name: str) -> None:
        bits = max(2, int(n - 1).bit_length())
        bits += bits % 2
        self.n = np.uint64(n)
        self.half = np.uint64(bits // 2)
        self.mask = np.uint64((1 << (bits // 2)) - 1)
        self.salts = [salt(f"{name}#round{r}") for r in range(4)]

    def forward(self, x: U64) -> U64:
        left, right = x >> self.half, x & self.mask
        for s in self.salts:
            left, right = right, left ^ (splitmix64(right ^ s) & self.mask)
        return (left << self.half) | right

    def backward(self, x: U64) -> U64:
        left, right = x >> self.half, x & self.mask
        for s in reversed(self.salts):
            left, right = right ^ (splitmix64(left ^ s) & self.mask), left
        return (left << self.half) | right

    def walk(self, index: I64, step: Callable[[U64], U64]) -> I64:
        """Cycle walking: apply ``step`` until the value is back inside ``[0, n)``."""
        out = step(np.asarray(index).astype(np.uint64))
        pending = out >= self.n
        while pending.any():
            out[pending] = step(out[pending])
            pending = out >= self.n
        return out.astype(np.int64)


def permute(index: I64, n: int, name: str) -> I64:
    """A keyed bijection of ``[0, n)``: a 4-round Feistel network with cycle walking.

    Each element's image is computed on its own, so exact quotas can be assigned to scattered keys
    without sorting the whole population.
    """
    if n <= 1:
        return np.zeros_like(index)
    network = _Feistel(n, name)
    return network.walk(index, network.forward)


def unpermute(image: I64, n: int, name: str) -> I64:
    """The inverse of ``permute(., n, name)``: which index has each image."""
    if n <= 1:
        return np.zeros_like(image)
    network = _Feistel(n, name)
    return network.walk(image, network.backward)
