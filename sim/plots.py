"""``sim.plots``: the plots of a run (re-exported from :mod:`sim.results.plots`, where they live)."""

from sim.results.plots import *  # noqa: F403
from sim.results.plots import PLOTS, __all__  # noqa: F401
