"""finsent: Korean retail-investor board chatter turned into a measured market signal."""

__version__ = "0.1.0"
