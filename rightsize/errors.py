"""The one exception type the CLI turns into a single stderr line and exit code 2."""

from __future__ import annotations


class RightsizeError(Exception):
    """Bad input or an unusable environment: the message is shown to the user as it is.

    Raise it before any side effect (sampling, writing) where possible, so that a failure never
    leaves a half-written file behind.
    """
