"""The outputs stored in solutions/ (what readers see) are honest: they say in plain words which data they came
from, show no machine's path, and the numbers quoted in the text are the ones printed beside it."""
import re

import nbformat
import pytest

from tools import build

SOLUTIONS = sorted((build.ROOT / "solutions").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"(/work/|/home/|/root/|/tmp/|/Users/|/usr/|site-packages|[A-Z]:\\\\)")
# A number with decimals, a percentage, or a measured quantity with its unit.
QUOTED_NUMBER = re.compile(r"(?<![\w.\\^_{])(\d[\d,]*\.\d+|\d+(?:\.\d+)?\s?%|\d+(?:\.\d+)?\s?(?:dB|nats|bits|s)\b)")
# Numbers in the text that are not outputs (arithmetic done in the text, the header's time estimates, constants from
# a paper, arXiv numbers), per notebook. Anything else quoted in the text must appear in the notebook's code or outputs.
NOT_FROM_OUTPUTS = {
    "01_linear_autoencoder": {"65 s", "24.5", "6.1"},
    "02_convolutional_autoencoder": {"1.5", "1603.07285"},
    "03_denoising_autoencoder": set(),
    "04_sparse_autoencoder": {"0.05"},
    "05_contractive_autoencoder": {"50 s"},
    "06_variational_autoencoder": {"106.66", "1606.05908"},
    "07_anomaly_detection": {"0.0103", "0.0174", "0.1", "0.93"},
    "08_compression_and_representations": {"024 bits", "16.0", "1.5", "2.5"},
    "10_vector_quantised_autoencoders": {"4.3"},  # Rombach et al.'s section 4.3.1, a citation
}


def code_and_outputs(notebook):
    texts = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            texts.append(cell.source)
            for output in cell.get("outputs", []):
                texts.append(str(output.get("text", "")))
                texts.append(str(output.get("data", {}).get("text/plain", "")))
                texts.append(str(output.get("evalue", "")))
    return "\n".join(texts)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_outputs_name_their_data_and_no_machine_path(path):
    notebook = nbformat.read(path, as_version=4)
    outputs = "\n".join(text for cell in notebook.cells if cell.cell_type == "code"
                        for output in cell.get("outputs", [])
                        for text in (str(output.get("text", "")), str(output.get("data", {}).get("text/plain", ""))))
    assert not MACHINE_PATH.search(outputs), MACHINE_PATH.search(outputs).group(0)
    assert re.search(r"(MNIST|Fashion-MNIST): [\d,]+ training images", outputs), \
        "print data.description, so that readers know which data the stored outputs came from"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_numbers_in_the_text_are_the_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    printed = code_and_outputs(notebook)
    allowed = NOT_FROM_OUTPUTS.get(path.stem, set())
    missing = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", "", cell.source, flags=re.S)  # equations are theory
        text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
        for match in QUOTED_NUMBER.finditer(text):
            number = re.match(r"[\d,.]+", match.group(1)).group(0)
            if number not in printed and match.group(1) not in allowed:
                missing.append(match.group(1))
    assert not missing, (f"quoted in the text but printed nowhere in the notebook: {missing}; quote the output "
                         "(re-run with python -m tools.store_outputs), or list it in NOT_FROM_OUTPUTS with a reason")
