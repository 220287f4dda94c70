"""utils.viz.draw_autoencoder: the diagram of an encoder, its code and a decoder (notebook 01 draws the seed's)."""
import matplotlib

matplotlib.use("Agg")  # no window: the test only reads what was drawn

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from utils import viz  # noqa: E402


def texts(ax):
    return [text.get_text() for text in ax.texts]


def test_one_bar_per_layer_the_code_named_and_the_labels_under_the_bars():
    fig, ax = plt.subplots()
    viz.draw_autoencoder([784, 256, 32, 256, 784], ax=ax)
    bars = [patch for patch in ax.patches if isinstance(patch, plt.Rectangle)]
    assert len(bars) == 5
    heights = [bar.get_height() for bar in bars]
    assert heights[2] == min(heights) and heights[0] == heights[4] == max(heights)  # the code is the narrowest
    assert {"encoder", "decoder", "code", "784", "256", "32"} <= set(texts(ax))
    plt.close(fig)


def test_labels_replace_the_sizes():
    fig, ax = plt.subplots()
    viz.draw_autoencoder([784, 32, 784], ["image", "code z", "reconstruction"], ax=ax)
    assert {"image", "code z", "reconstruction"} <= set(texts(ax)) and "784" not in texts(ax)
    plt.close(fig)


def test_fewer_than_three_layers_is_not_an_autoencoder():
    with pytest.raises(ValueError, match="at least an input, a code and an output"):
        viz.draw_autoencoder([784, 32])
