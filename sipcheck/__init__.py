"""sipcheck: caller-number screening and the forwarding identification tone for Japanese call routing."""

__version__ = "0.1.0"
