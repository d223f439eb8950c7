"""The strided max pool that replaces MTCNN's pools on a CPU gives torch's values and the same faces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfdc_lake.config import Config
from dfdc_lake.stages.faces import FaceDetector
from dfdc_lake.stages.mtcnn_ops import StridedMaxPool, use_strided_pools


@pytest.mark.parametrize("kernel,stride", [(2, 2), (3, 2)])
@pytest.mark.parametrize("height,width", [(12, 12), (13, 17), (22, 22), (5, 6), (3, 4), (4, 9)])
def test_strided_pool_equals_torch_ceil_mode_pool(kernel: int, stride: int, height: int, width: int) -> None:
    x = torch.randn(3, 4, height, width)
    expected = torch.nn.functional.max_pool2d(x, kernel, stride, ceil_mode=True)
    got = StridedMaxPool(kernel, stride)(x)
    assert got.shape == expected.shape
    assert torch.equal(got, expected)


def test_every_mtcnn_pool_is_replaced_and_the_faces_stay_the_same() -> None:
    from facenet_pytorch import MTCNN
    from skimage import data

    detector = FaceDetector(Config().faces.model_copy(update={"device": "cpu"}))
    detector.setup()
    assert not [m for m in detector._mtcnn.modules() if isinstance(m, torch.nn.MaxPool2d)]

    strided = MTCNN(keep_all=True, post_process=False, min_face_size=16, device="cpu")
    assert use_strided_pools(strided) == 6  # P-Net 1, R-Net 2, O-Net 3
    torch_pools = MTCNN(keep_all=True, post_process=False, min_face_size=16, device="cpu")
    frames = np.stack([data.astronaut(), np.ascontiguousarray(data.astronaut()[:, ::-1])])
    boxes, probs = strided.detect(frames)
    expected_boxes, expected_probs = torch_pools.detect(frames)
    assert all(b is not None and len(b) >= 1 for b in boxes)  # the astronaut's face, and mirrored
    for got, want in zip([*boxes, *probs], [*expected_boxes, *expected_probs], strict=True):
        np.testing.assert_array_equal(got, want)
