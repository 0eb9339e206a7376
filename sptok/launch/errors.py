"""The launcher's usage error."""
from __future__ import annotations


class LaunchError(ValueError):
    """A usage error: bad options, job range, log name or config."""
