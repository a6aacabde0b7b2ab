"""livestyle: real-time neural style transfer for webcams and videos."""

__version__ = "0.1.0"
