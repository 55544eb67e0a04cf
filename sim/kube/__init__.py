"""Kubernetes objects as the user wrote them: Service, Deployment and HorizontalPodAutoscaler
manifests, their defaults and the API server's validation (with its own error texts), address
and port allocation.

May import: the vocabulary (``sim.units``, ``sim.errors``, ...). Knows nothing
of the Simulation document, the run or its results.
"""
