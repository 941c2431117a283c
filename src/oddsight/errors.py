"""Typed errors. Every failure a user can cause ends in one of these, with a one-line message."""

from __future__ import annotations


class OddsightError(Exception):
    """Base class: the CLI prints ``str(error)`` on one line and exits non-zero."""

    exit_code = 1


class InputError(OddsightError):
    """A path, URL or folder that cannot be used as video input."""

    exit_code = 2


class VideoDecodeError(InputError):
    """A file that exists but holds no decodable video."""


class StreamError(InputError):
    """A live stream or camera that cannot be opened or was lost for good."""


class ModelUnavailableError(OddsightError):
    """A model whose weights or backend are not present; the message says how to get them."""

    exit_code = 3


class ModelFileError(OddsightError):
    """A model or fitted-detector file that is corrupt, of an unknown version, or of another encoder."""

    exit_code = 4


class ConfigError(OddsightError):
    """Options that do not fit together (e.g. ``--method oneclass`` without ``--detector``)."""

    exit_code = 2


class LLMError(OddsightError):
    """A language-model backend that failed for good (server unreachable after retries, bad reply)."""

    exit_code = 5


class OutputError(OddsightError):
    """An output that cannot be written (no such folder, a file in the way, no space, no permission)."""

    exit_code = 6
