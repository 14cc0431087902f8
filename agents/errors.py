"""The one exception for bad user input: the CLI prints its message as a single line and exits with code 2."""


class UsageError(ValueError):
    """Bad input from the user (an unknown env id, core or key, a bad value, a missing model): not a bug."""
