"""Operator tools: the invariant checker (`make check`)."""
