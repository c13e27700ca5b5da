"""OpenLookout: self-hosted visual anomaly detection with a Lookout for Vision compatible API."""

__version__ = "0.1.0"
