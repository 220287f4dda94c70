"""Checks for notebook 02, the convolutional autoencoder. Each test runs the learner's code on seeded inputs and
names the mistake when it recognises one; shape errors are traced layer by layer to the layer that broke."""
import torch
from torch import nn

from .checks import Mistake, exercise, name_known_mistake
from .models import ShapeError, trace_shapes

REFERENCE = "nb02_convolutional_autoencoder"
CONV_ARITHMETIC = ("a convolution maps a side of length n to ⌊(n + 2·padding − kernel_size) / stride⌋ + 1, so "
                   "kernel_size=3, stride=2, padding=1 halves it: 28 → 14 → 7.")
UPSAMPLING_ARITHMETIC = ("nn.Upsample(scale_factor=2) doubles a side and a convolution with kernel_size=3, padding=1 "
                         "keeps it, so 7 → 14 → 28.")
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU)


def _run(module, inputs, what, arithmetic=CONV_ARITHMETIC):
    """Call the learner's module; a shape error becomes a Mistake that names the failing layer."""
    try:
        if isinstance(module, nn.Sequential):
            trace_shapes(module, inputs)
        return module(inputs)
    except ShapeError as error:
        raise Mistake(f"the {what} breaks on an input of shape {tuple(inputs.shape)}: {error}. "
                      f"Trace the shapes: {arithmetic}") from None
    except RuntimeError as error:
        raise Mistake(f"the {what} breaks on an input of shape {tuple(inputs.shape)}: {error}. "
                      f"{arithmetic}") from None


def _count(module, kinds):
    return sum(isinstance(m, kinds) for m in module.modules())


def _too_few_activations(module, inputs, needed=2):
    """Fewer than ``needed`` activation layers; a module with none (F.relu in a forward, say) must at least not be
    affine, i.e. f(x + y) = f(x) + f(y) - f(0) must fail."""
    count = _count(module, ACTIVATIONS)
    if count:
        return count < needed
    x, y = inputs, inputs.flip(0)
    return torch.allclose(module(x + y), module(x) + module(y) - module(torch.zeros_like(x)), atol=1e-5)


def _check_gradients(module, output):
    if not output.requires_grad:
        raise Mistake("no gradient can flow back through the output: is something detached (.detach(), .data, "
                      "torch.no_grad())?")
    output.square().mean().backward()
    for name, parameter in module.named_parameters():
        if parameter.grad is None or not parameter.grad.abs().sum() > 0:
            raise Mistake(f"no gradient reaches {name}: is something detached (.detach(), .data, torch.no_grad())?")


def _check_parameter_count(module, expected, layers):
    count = sum(p.numel() for p in module.parameters())
    if count != expected:
        raise Mistake(f"with code_size = 32 this layout has {expected:,} parameters ({layers}); yours has {count:,}. "
                      "Compare your layers' channels and kernel sizes with the list above the exercise.")


@exercise("1", "the convolutional encoder", 3, f"{REFERENCE}.build_encoder")
def build_encoder(build):
    encoder = build(32)
    if not isinstance(encoder, nn.Module):
        raise Mistake(f"build_encoder(32) should return an nn.Module (e.g. nn.Sequential), not a {type(encoder).__name__}.")
    if _count(encoder, nn.Conv2d) != 2:
        raise Mistake(f"the encoder has {_count(encoder, nn.Conv2d)} nn.Conv2d layers; this one has two, "
                      "nn.Conv2d(1, 8, ...) and nn.Conv2d(8, 16, ...), each followed by nn.ReLU().")
    images = torch.rand(5, 1, 28, 28)
    code = _run(encoder, images, "encoder")
    if code.shape != (5, 32):
        raise Mistake(f"the encoder should map images (5, 1, 28, 28) to codes (5, 32), but gave {tuple(code.shape)}: "
                      "end it with nn.Flatten() and nn.Linear(16 * 7 * 7, code_size).")
    if _run(build(7), images, "encoder").shape != (5, 7):
        raise Mistake("with code_size=7 the code is not 7 wide: use the code_size argument, not a fixed 32.")
    if _too_few_activations(encoder, images):
        raise Mistake("without a nonlinearity after each convolution the layers collapse into one linear map: "
                      "put nn.ReLU() after each nn.Conv2d.")
    if (code >= 0).all():
        raise Mistake("the code never goes negative: end the encoder with the nn.Linear layer, with no ReLU or "
                      "sigmoid after it. A ReLU on the code can kill code units, as notebook 01 showed.")
    _check_parameter_count(encoder, 80 + 1_168 + 785 * 32,
                           "Conv2d(1, 8, 3): 80, Conv2d(8, 16, 3): 1,168, Linear(784, 32): 25,120")
    _check_gradients(encoder, code)


@exercise("2", "the upsample-then-convolve decoder", 3, f"{REFERENCE}.build_decoder")
def build_decoder(build):
    decoder = build(32)
    if not isinstance(decoder, nn.Module):
        raise Mistake(f"build_decoder(32) should return an nn.Module (e.g. nn.Sequential), not a {type(decoder).__name__}.")
    if _count(decoder, nn.ConvTranspose2d):
        raise Mistake("this exercise asks for nn.Upsample(scale_factor=2) followed by nn.Conv2d, not "
                      "nn.ConvTranspose2d: the transposed decoder comes later, to compare.")
    codes = torch.randn(5, 32)
    images = _run(decoder, codes, "decoder", UPSAMPLING_ARITHMETIC)
    if images.shape != (5, 1, 28, 28):
        raise Mistake(f"the decoder should map codes (5, 32) to images (5, 1, 28, 28), but gave {tuple(images.shape)}: "
                      "nn.Linear(code_size, 16 * 7 * 7) and nn.Unflatten(1, (16, 7, 7)), then upsample 7 → 14 → 28, "
                      "and the last convolution has 1 output channel.")
    try:
        takes_other_widths = _run(build(7), torch.randn(5, 7), "decoder").shape == (5, 1, 28, 28)
    except Mistake:
        takes_other_widths = False
    if not takes_other_widths:
        raise Mistake("with code_size=7 the decoder does not take codes of width 7: use the code_size argument.")
    extreme = decoder(codes * 50)  # drives the last layer far from 0
    if extreme.min() < 0 or extreme.max() > 1:
        raise Mistake("outputs leave [0, 1], the range of a pixel: end the decoder with nn.Sigmoid().")
    activations = _count(decoder, ACTIVATIONS)  # a hand-written forward may use F.relu: no layers to count
    if activations < 2 and (activations or isinstance(decoder, nn.Sequential)):
        raise Mistake("put nn.ReLU() after the nn.Linear layer and after the first nn.Conv2d: without them the "
                      "decoder is one linear map followed by a sigmoid.")
    _check_parameter_count(decoder, 25_872 + 1_160 + 73,
                           "Linear(32, 784): 25,872, Conv2d(16, 8, 3): 1,160, Conv2d(8, 1, 3): 73")
    _check_gradients(decoder, images)


def _squared_error_model():
    torch.manual_seed(2)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 3), nn.Linear(3, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))


@exercise("3", "the error of each image", 2, f"{REFERENCE}.per_image_mse")
def per_image_mse(measure):
    model, images = _squared_error_model(), torch.rand(6, 1, 28, 28) ** 3
    with torch.no_grad():
        squared = (model(images) - images) ** 2
    expected = squared.flatten(1).mean(dim=1)
    errors = measure(model, images)
    if not isinstance(errors, torch.Tensor):
        raise Mistake(f"return a tensor with one number per image, not a {type(errors).__name__}.")
    if errors.numel() == 1:
        raise Mistake("you returned one number for the whole batch: average over each image's pixels only "
                      "(dims 1, 2 and 3), which leaves one error per image, shape (N,).")
    if errors.shape == images.shape:
        raise Mistake("you returned the error of every pixel: average over each image's pixels (dims 1, 2, 3).")
    if errors.shape != (6,):
        raise Mistake(f"expected one error per image, shape (6,); got {tuple(errors.shape)}.")
    if errors.requires_grad:
        raise Mistake("the errors carry a computation graph: compute them under `with torch.no_grad():`, since "
                      "nothing will be back-propagated and a graph over the whole test set costs memory.")
    errors = errors.detach().double()
    if torch.allclose(errors, expected.double(), rtol=1e-4):
        return
    absolute = (model(images) - images).detach().abs().flatten(1).mean(1)
    in_order = "keep the images in their order: sort later, when you look for the worst"
    known = [(expected * 784, "you summed over the pixels: take their mean, so the errors are per pixel like every "
                              "other loss in this course"),
             (expected.sqrt(), "you took a square root: return the mean *squared* error"),
             (absolute, "you averaged absolute errors: square the differences"),
             (expected.sort(descending=True).values, in_order),
             (expected.sort().values, in_order)]
    name_known_mistake(errors, known, rtol=1e-4)
    raise Mistake("these are not the mean squared errors per pixel of each image between model(images) and images.")
