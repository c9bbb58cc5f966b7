"""Errors that reach the user as one line and an exit code, never as a traceback."""


class GuardrailsError(Exception):
    exit_code = 2


class UserError(GuardrailsError):
    """Bad usage or unreadable input: exit code 2."""

    exit_code = 2


class CollectionError(GuardrailsError):
    """Nothing at all could be collected: exit code 3."""

    exit_code = 3
