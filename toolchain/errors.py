"""Errors a user can cause. The CLI prints their message and exits non-zero (2; 1 for a
verification failure), no traceback.

Messages say what is wrong, where (layer, op, file, key) and, where it helps, what to do.
"""


class ToolchainError(Exception):
    """Base of every user-facing error."""

    exit_code = 2


class InputFileError(ToolchainError):
    """A model or data file that cannot be read or has the wrong content."""


class UnsupportedOpError(ToolchainError):
    """The model uses an op or op variant the runtime does not implement."""


class DatasetError(ToolchainError):
    """A dataset that does not match the model or lacks required arrays."""


class BoardError(ToolchainError):
    """A board file that is missing, malformed or inconsistent."""


class BuildError(ToolchainError):
    """A C compiler or linker failure."""


class RunError(ToolchainError):
    """A host or emulator run that failed or printed something unexpected."""


class VerifyError(ToolchainError):
    """Outputs that differ from the reference interpreter: the build ran, its results are
    wrong. Exit status 1, apart from user errors' 2."""

    exit_code = 1


class BudgetError(ToolchainError):
    """A model that does not fit the board or budget it was given."""
