"""Typed errors raised by the library. Only the CLI turns them into messages and exit codes.

Every message is one line that says what was wrong and what to do about it.
"""


class LivestyleError(Exception):
    """Base class: anything the user can fix by changing their input or setup."""

    exit_code = 2


class InputError(LivestyleError):
    """A file or argument the user gave is missing, unreadable or out of range."""


class StyleNotFoundError(LivestyleError):
    """A style name that the registry does not know."""


class ModelError(LivestyleError):
    """A weight file or ONNX graph is missing, corrupt or of the wrong shape."""


class DeviceError(LivestyleError):
    """The requested compute device or execution provider cannot be used here."""


class OutputError(LivestyleError):
    """An output path cannot be written."""


class ParityError(LivestyleError):
    """An exported graph does not reproduce its PyTorch source within tolerance."""


class SourceError(LivestyleError):
    """A camera or video source cannot be opened or stopped delivering frames."""


class SinkError(LivestyleError):
    """A frame sink (window, virtual camera, server, file) cannot be opened."""


class TrainingDiverged(LivestyleError):
    """The training loss blew up (or became NaN); the last good checkpoint is kept."""


class ClusterError(LivestyleError):
    """Ray is not installed, or the cluster cannot be reached or cannot run the workers."""


class MissingExtraError(LivestyleError):
    """A command or option needs a package that the plain install leaves out (PyTorch, onnx);
    the message names the pip command that brings it. Raised by :func:`livestyle.extras.need`."""
