"""Pod names as the ReplicaSet controller makes them: ``<deployment>-<template hash>-<suffix>``.

The template hash is a stable function of the pod template (as the Deployment controller's
pod-template-hash label is); the five-character suffix is drawn from kube's SafeEncodeString
alphabet (no vowels, no confusable digits) from the Deployment's own stream, never repeating
a name (docs/semantics.md#deployments-and-pods).
"""

from __future__ import annotations

import json
import zlib

import numpy as np

from sim.kube.deployment import Deployment

__all__ = ["PodNames"]

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class PodNames:
    """Hands out unique pod names per Deployment."""

    def __init__(
        self, deployments: tuple[Deployment, ...] | list[Deployment], draws: dict[str, np.random.Generator]
    ) -> None:
        self._hash = {d.name: template_hash(d) for d in deployments}
        self._draws = draws  # Deployment -> its name stream
        self._taken: set[str] = set()

    def new(self, deployment: str, template: str | None = None) -> str:
        """A new pod name of ``deployment``'s ReplicaSet with pod-template-hash ``template``
        (default: the Deployment's own template's)."""
        rng = self._draws[deployment]
        template = self._hash[deployment] if template is None else template
        while True:
            suffix = "".join(_ALPHABET[int(i)] for i in rng.integers(0, len(_ALPHABET), 5))
            name = f"{deployment}-{template}-{suffix}"
            if name not in self._taken:
                self._taken.add(name)
                return name


def template_hash(dep: Deployment, revision: int = 1) -> str:
    """A stable 10-character pod-template-hash, as the Deployment controller adds to names;
    a later ``revision`` (a rollout) hashes the template as ``kubectl rollout restart`` changes
    it, with a restart annotation."""
    template = dep.manifest.get("spec", {}).get("template", {})
    if revision > 1:
        template = {"revision": revision, "template": template}
    value = zlib.crc32(json.dumps(template, sort_keys=True, default=str).encode())
    value = value * 2654435761 % (27**10)
    chars = []
    for _ in range(10):
        value, rest = divmod(value, 27)
        chars.append(_ALPHABET[rest])
    return "".join(chars)
