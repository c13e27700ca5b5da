"""Edge packages: a self-contained bundle (ONNX model, metadata, a runner needing only onnxruntime,
numpy and Pillow) plus a Greengrass V2 style recipe. See ``bundle.build_bundle``."""
