"""neural-codec: neural compression and representation codecs behind one container format."""

__version__ = "0.1.0"
