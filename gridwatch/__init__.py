"""GridWatch: community IoT devices in, grid-level safety alerts out."""

__version__ = "0.1.0"
