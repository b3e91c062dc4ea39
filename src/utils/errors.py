"""The one exception type a user should ever see: a clear line, no traceback."""


class UserError(Exception):
    """A problem the user can fix (bad flag, missing or stale artifact); the message says how."""
