"""The seed of replication ``k``, derived from the experiment's root seed.

Replication ``k`` runs with the ``k``-th child of ``numpy.random.SeedSequence(root)``, as
``SeedSequence(root).spawn(n)[k]`` hands it out: ``spawn`` gives its ``k``-th child the spawn
key ``(k,)`` whatever ``n`` is, so the child, and the seed below, depend on ``(root, k)``
alone, not on how many replications there are, which worker runs them or in what order.
The child's first 64-bit word of state, reduced to 63 bits (the engine takes a non-negative
``int``, as ``--seed`` does), is the replication's seed. The engine then spawns its own named
streams from that seed (:mod:`sim.randomness`), so two replications share no stream.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SEED_BITS", "fresh_root_seed", "replication_seed"]

SEED_BITS = 63  # a run's seed is an int in [0, 2**63), as the engine draws a fresh one


def replication_seed(root: int, k: int) -> int:
    """The seed replication ``k`` (0-based) of an experiment with seed ``root`` runs with.

    Examples
    --------
    >>> replication_seed(42, 0) == replication_seed(42, 0) != replication_seed(42, 1)
    True
    """
    if k < 0:
        raise ValueError(f"replication index must be >= 0, got {k}")
    child = np.random.SeedSequence(root, spawn_key=(k,))  # == SeedSequence(root).spawn(n)[k] for any n > k
    word = int(child.generate_state(1, dtype=np.uint64)[0])
    return word % (1 << SEED_BITS)


def fresh_root_seed() -> int:
    """A root seed from the operating system's entropy, for an experiment given none (recorded
    with its results, so it can be repeated)."""
    return int(np.random.SeedSequence().entropy) % (1 << SEED_BITS)  # type: ignore[arg-type]
