"""VirNucPro-NF: viral / non-viral classification of short DNA sequences."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("virnucpro")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
