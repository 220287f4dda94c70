"""utils.trace_shapes: a layer-by-layer shape report, and an error that names the layer that broke."""
import pytest
import torch
from torch import nn

import utils


def test_trace_lists_every_layer_and_its_output_shape():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14 * 14, 3))
    rows = utils.trace_shapes(model, torch.zeros(2, 1, 28, 28))
    assert [shape for _, shape in rows] == [(2, 4, 14, 14), (2, 4, 14, 14), (2, 784), (2, 3)]
    assert rows[0][0].startswith("0: Conv2d(1, 4")


def test_a_layer_that_cannot_take_its_input_is_named():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.Flatten(), nn.Linear(784, 3))  # no padding: 13 x 13
    with pytest.raises(utils.ShapeError, match=r"layer 2, Linear\(in_features=784.*\(2, 676\)"):
        utils.trace_shapes(model, torch.zeros(2, 1, 28, 28))


def test_only_sequential_models_can_be_traced():
    with pytest.raises(TypeError, match="nn.Sequential"):
        utils.trace_shapes(nn.Linear(3, 3), torch.zeros(1, 3))
