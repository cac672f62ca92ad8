"""The one error type archlib raises for bad input."""


class ArchlibError(ValueError):
    """Bad input: an unknown model or knob, a value out of range, or a size too large.

    The message always names the offending value and what would have been allowed.
    """
