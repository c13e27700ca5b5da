"""Anomaly detection models: backbones, detectors, metrics, export. Imports no web or database code."""
