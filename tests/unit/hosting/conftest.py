"""A tiny hand-built ONNX "detector" (no torch, no training) with the exported graph's interface.

Graph: score = mean brightness / 255; is_anomalous = score >= 0.5; heatmap = per-pixel channel
mean / 255; type_mask = 1 where the heatmap is above 0.5. So a white image is anomalous with a
full "defect" mask and a black one is normal.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

HEIGHT, WIDTH = 32, 48


def build_model(path: Path, *, segmentation: bool = True, height: int = HEIGHT, width: int = WIDTH) -> Path:
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["channel_mean"], axes=[1], keepdims=0),
        helper.make_node("Div", ["channel_mean", "scale"], ["heatmap"]),
        helper.make_node("ReduceMean", ["heatmap"], ["score"], axes=[1, 2], keepdims=0),
        helper.make_node("GreaterOrEqual", ["score", "half"], ["is_anomalous"]),
        helper.make_node("Greater", ["heatmap", "half"], ["hot"]),
        helper.make_node("Cast", ["hot"], ["type_mask"], to=TensorProto.INT64),
    ]
    graph = helper.make_graph(
        nodes,
        "fake-detector",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, height, width])],
        [
            helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"]),
            helper.make_tensor_value_info("is_anomalous", TensorProto.BOOL, ["batch"]),
            helper.make_tensor_value_info("heatmap", TensorProto.FLOAT, ["batch", height, width]),
            helper.make_tensor_value_info("type_mask", TensorProto.INT64, ["batch", height, width]),
        ],
        initializer=[
            helper.make_tensor("scale", TensorProto.FLOAT, [], [255.0]),
            helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key = "openlookout"
    entry.value = json.dumps(
        {"input_size": [height, width], "anomaly_types": ["defect"], "segmentation": segmentation}
    )
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def fake_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("fake-model") / "model.onnx")
