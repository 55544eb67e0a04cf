"""Named random streams and block draws.

One ``numpy.random.SeedSequence`` per run; every component asks for its stream by a
stable name (``client/laptop/arrivals``, ``node/node-1/kube-proxy``), so adding a
client or a pod never shifts the numbers another component sees. Streams hand out
variates from blocks drawn ahead, and a block's size depends only on how many blocks
the stream has drawn before, so the values are the same whichever way consumers
slice them (one at a time or thousands at once).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from sim.distributions import Distribution

__all__ = ["BlockStream", "Streams", "uniform_index"]

_FIRST_BLOCK = 64
_LAST_BLOCK = 8192


class Streams:
    """Factory of independent generators keyed by name, all from one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def generator(self, name: str) -> np.random.Generator:
        """The generator for ``name``: a child of the run's seed, independent of other names."""
        key = zlib.crc32(name.encode("utf-8"))
        sequence = np.random.SeedSequence(self.seed, spawn_key=(key,))
        return np.random.Generator(np.random.PCG64(sequence))

    def uniform(self, name: str) -> BlockStream:
        """Uniform [0, 1) variates for ``name`` (used for choices)."""
        return BlockStream(functools.partial(self.generator, name), _uniform)

    def variates(self, name: str, dist: Distribution) -> BlockStream:
        """Variates of ``dist`` for ``name``."""
        return BlockStream(functools.partial(self.generator, name), dist.sample)


def _uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.random(n)


class BlockStream:
    """A sequence of variates served from blocks drawn ahead.

    The blocks grow from 64 to 8192 values, so a stream that is used a little costs
    little memory while a busy one is drawn in large vectorised calls. ``rng`` may be a
    function making the generator: it is then made at the first draw, so a stream never
    drawn from (a pod that gets no request) costs no generator (about 30 µs each).
    """

    __slots__ = ("_block", "_draw", "_make", "_next_size", "_pos", "_rng")

    def __init__(
        self,
        rng: np.random.Generator | Callable[[], np.random.Generator],
        draw: Callable[[np.random.Generator, int], np.ndarray],
    ) -> None:
        self._rng: np.random.Generator | None = rng if isinstance(rng, np.random.Generator) else None
        self._make = None if isinstance(rng, np.random.Generator) else rng
        self._draw = draw
        self._block = np.empty(0)
        self._pos = 0
        self._next_size = _FIRST_BLOCK

    def _refill(self) -> None:
        if self._rng is None:
            assert self._make is not None
            self._rng = self._make()
        rest = self._block[self._pos :]
        fresh = np.asarray(self._draw(self._rng, self._next_size), dtype=float)
        self._next_size = min(self._next_size * 2, _LAST_BLOCK)
        self._block = np.concatenate((rest, fresh)) if rest.size else fresh
        self._pos = 0

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` variates, in order."""
        while self._block.size - self._pos < n:
            self._refill()
        out = self._block[self._pos : self._pos + n]
        self._pos += n
        return out

    def take_below(self, limit: float) -> np.ndarray:
        """For an increasing stream (arrival times): every next value below ``limit``."""
        while self._block.size == self._pos or self._block[-1] < limit:
            self._refill()
        end = int(np.searchsorted(self._block, limit, side="left"))
        end = max(end, self._pos)
        out = self._block[self._pos : end]
        self._pos = end
        return out

    def window(self) -> tuple[np.ndarray, int]:
        """The block drawn ahead and the position of the next variate in it (a fresh block if
        this one is used up), for a compiled consumer that reads on from there and then says
        how far with :meth:`consumed`. The block must not be written to."""
        if self._pos >= self._block.size:
            self._refill()
        return self._block, self._pos

    def peek(self) -> tuple[np.ndarray, int]:
        """The block drawn ahead and the position of the next variate in it, as they are: unlike
        :meth:`window`, a stream never drawn from stays so (no generator, no block)."""
        return self._block, self._pos

    def consumed(self, pos: int) -> None:
        """A consumer of :meth:`window` read the block up to ``pos``."""
        assert self._pos <= pos <= self._block.size
        self._pos = pos

    def one(self) -> float:
        """The next variate."""
        if self._pos >= self._block.size:
            self._refill()
        value = float(self._block[self._pos])
        self._pos += 1
        return value


def uniform_index(u: float | np.ndarray, n: int | np.ndarray) -> Any:
    """The item a uniform draw ``u`` in [0, 1) picks among ``n`` equally likely ones:
    ``floor(u * n)``, capped at ``n - 1`` in case ``u * n`` rounds up to ``n``.

    The one formula behind every uniform pick (endpoints, entry nodes, source addresses);
    a float gives an int, an array gives an array of indices.

    >>> uniform_index(0.5, 4), uniform_index(0.9999999999999999, 3)
    (2, 2)
    >>> uniform_index(np.array([0.0, 0.3, 0.99]), 3).tolist()
    [0, 0, 2]
    """
    if isinstance(u, float):
        i = int(u * n)
        return i if i < n else n - 1
    return np.minimum((u * n).astype(np.int64), np.asarray(n) - 1)
