"""citymap's domain and spatial analysis (no web code here)."""

__version__ = "0.1.0"
