"""Hosting: inference units (worker processes running the exported ONNX model) and per-model pools.

The server process owns the pools (``manager.HostingManager``); each unit is a spawned process
that imports onnxruntime, numpy and Pillow only (never torch). ``result`` builds the
``DetectAnomalyResult`` and is shared verbatim with the edge bundle.
"""
