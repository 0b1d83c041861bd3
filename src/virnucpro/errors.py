"""The one exception type for problems with a user's input."""


class InputError(Exception):
    """Bad input: the command line prints the message as one line and exits non-zero."""
