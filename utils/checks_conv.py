"""Checks for notebook 02, the convolutional autoencoder. Each test runs the learner's code on seeded inputs and
names the mistake when it recognises one. The encoder and decoder exercises give only the target shapes, so a shape
that goes wrong is traced to the layer that made it (forward hooks record what each convolution and pooling layer
gives), without saying which stride or padding to choose."""
import contextlib

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from .checks import (Mistake, Unrecognised, as_float, check_deterministic, check_follows_inputs, check_layers,
                     check_pixel_activation, choice, count_parameters, design_images, exercise, mse_on,
                     name_known_mistake, other_layers, output_of_last, probing, question, train_briefly)
from .models import ShapeError, trace_shapes

REFERENCE = "nb02_convolutional_autoencoder"
CONV_ARITHMETIC = ("A convolution maps a side of length n to ⌊(n + 2·padding − kernel_size) / stride⌋ + 1: with "
                   "kernel_size=3, find the stride and padding that give the table's sides")
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU)
POOLING = (nn.MaxPool2d, nn.AvgPool2d)
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


# Exercise 1: a convolution by hand.

CONVOLUTION_OPS = {"conv1d", "conv2d", "conv3d", "convolution", "_convolution", "conv_transpose1d",
                   "conv_transpose2d", "conv_transpose3d", "conv_tbc"}


class _ConvolutionWatch(TorchFunctionMode):
    """Records whether the code under watch called one of PyTorch's convolutions."""

    def __init__(self):
        super().__init__()
        self.called = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in CONVOLUTION_OPS:
            self.called.add(name)
        return func(*args, **(kwargs or {}))


def _torch_convolution(images, kernel, stride, padding):
    """What convolve should give: PyTorch's own (cross-correlation, the kernel not flipped)."""
    return F.conv2d(images[:, None], kernel[None, None], stride=stride, padding=padding)[:, 0]


def _side(n, k, stride, padding):
    return (n + 2 * padding - k) // stride + 1


def _check_convolution(convolve, images, kernel, stride, padding, advice=None):
    case = f"with images of shape {tuple(images.shape)}, a {len(kernel)} × {len(kernel)} kernel, stride={stride}, " \
           f"padding={padding}"
    watch = _ConvolutionWatch()
    with watch, probing(case, advice) if advice else contextlib.nullcontext():
        output = convolve(images.clone(), kernel.clone(), stride, padding)
    if watch.called:
        raise Mistake(f"your code called PyTorch's {sorted(watch.called)[0]}: slide the kernel yourself, with slicing "
                      "(or Tensor.unfold) and a sum; the point is to see the same weights used at every position.")
    if not isinstance(output, torch.Tensor):
        raise Mistake(f"{case}: return a tensor of shape (N, H_out, W_out), not a {type(output).__name__}.")
    expected = _torch_convolution(images, kernel, stride, padding)
    n, h, w = images.shape
    k = len(kernel)
    if output.shape != expected.shape:
        shape, want = tuple(output.shape), tuple(expected.shape)
        if shape == (n, want[2], want[1]) and want[1] != want[2]:
            raise Mistake(f"{case}: your output has shape {shape}, rows and columns swapped; it should be {want}: "
                          "the first spatial dimension counts rows (the image's height).")
        if padding and shape == (n, _side(h, k, stride, 0), _side(w, k, stride, 0)):
            raise Mistake(f"{case}: your output has shape {shape}, as if there were no padding; it should be {want}. "
                          "Pad every image with `padding` zeros on each of its four sides first (F.pad).")
        if stride > 1 and shape == (n, _side(h, k, 1, padding), _side(w, k, 1, padding)):
            raise Mistake(f"{case}: your output has shape {shape}, as if the window moved one pixel at a time; it "
                          f"should be {want}: the window moves `stride` pixels between positions.")
        if len(shape) == 3 and shape[0] == n and {shape[1] - want[1], shape[2] - want[2]} <= {-1, 1}:
            raise Mistake(f"{case}: your output has shape {shape}, one position off; it should be {want}. Count the "
                          "window's positions along a side: the first starts at 0, the last may start anywhere up to "
                          "(padded side − kernel size), and they are `stride` apart.")
        if len(shape) == 3 and shape[0] != n:
            raise Mistake(f"{case}: your output has shape {shape}, {shape[0]} images for the {n} given: the window "
                          "slid along the images (dim 0). Slide it along the rows and columns, dims 1 and 2.")
        if len(shape) == 3 and (shape[1] >= h + 2 * padding or shape[2] >= w + 2 * padding):
            along = "rows" if shape[1] >= h + 2 * padding else "columns"
            raise Mistake(f"{case}: your output has shape {shape}, as many {along} as the (padded) images: the window "
                          f"never slid along the {along}. Slide it along both dim 1 (rows) and dim 2 (columns).")
        if len(shape) == 3 and shape[2] == k and want[2] != k:
            raise Mistake(f"{case}: your output has shape {shape}, ending in the kernel's size: the sum ran over the "
                          "wrong dimensions. Sum each window over its own two dimensions, the last two after "
                          "unfolding twice.")
        raise Unrecognised(f"{case}: expected an output of shape {want} (one number per window position), got "
                           f"{shape}.")
    if output.dtype != images.dtype:
        raise Mistake(f"{case}: the output is {output.dtype}, the images {images.dtype}: create the output with the "
                      "images' dtype (e.g. images.new_zeros(...)).")
    output = output.detach()
    if torch.allclose(output, expected, atol=1e-5):
        return
    one_step = _torch_convolution(images, kernel, 1, padding)[:, :expected.shape[1], :expected.shape[2]]
    known = [(_torch_convolution(images, kernel.flip(0, 1), stride, padding),
              "you flipped the kernel (the textbook's convolution); PyTorch's layers, like this exercise, multiply "
              "each patch by the kernel as it is (a cross-correlation): no flip"),
             (_torch_convolution(images, kernel.T, stride, padding),
              "you used the kernel transposed: kernel[a, b] multiplies the pixel a rows below and b columns right of "
              "the patch's top-left corner"),
             (one_step if stride > 1 else None,
              "the output has the right shape, but its windows start one pixel apart: output (i, j) reads the patch "
              "whose top-left corner is at (i·stride, j·stride) of the padded image"),
             (F.conv2d(F.pad(images[:, None], (0, 2 * padding, 0, 2 * padding)), kernel[None, None],
                       stride=stride)[:, 0] if padding else None,
              "you padded on one side only: put `padding` zeros on each of the four sides"),
             (_torch_convolution(images, kernel, stride, padding) / (k * k),
              "you averaged over each patch: sum the products, with no division")]
    name_known_mistake(output, known, rtol=1e-4)
    raise Unrecognised(f"{case}: the values differ from a convolution's: each output should be the sum of one k × k "
                       "patch of the (padded) images multiplied element by element by the kernel.")


@exercise("1", "a convolution by hand", 3, f"{REFERENCE}.convolve")
def convolve(convolve_):
    generator = torch.Generator().manual_seed(5)
    images = torch.rand(3, 9, 11, generator=generator)
    for size, stride, padding in [(3, 1, 0), (3, 2, 1), (2, 2, 0), (3, 1, 1)]:
        kernel = torch.randn(size, size, generator=generator)
        _check_convolution(convolve_, images, kernel, stride, padding)
    # A single image of odd sides with more padding than the notebook uses.
    kernel = torch.randn(3, 3, generator=generator)
    _check_convolution(convolve_, torch.rand(1, 7, 6, generator=generator), kernel, 2, 2,
                       advice="a batch of one must work too, and a .squeeze() drops its batch dimension")
    # The signature's defaults and names: convolve(images, kernel) is stride 1 without padding.
    images = images.clone()
    with probing("called as convolve(images, kernel), with the defaults", "keep the signature "
                 "convolve(images, kernel, stride=1, padding=0)"):
        plain = convolve_(images, kernel)
    if not (isinstance(plain, torch.Tensor) and plain.shape == (3, 7, 9)
            and torch.allclose(plain, _torch_convolution(images, kernel, 1, 0), atol=1e-5)):
        raise Mistake("called as convolve(images, kernel), your function does not give stride 1 without padding: "
                      "keep the signature's defaults, convolve(images, kernel, stride=1, padding=0).")
    with probing("called with keywords, convolve(images, kernel, stride=2, padding=1)", "keep the signature's "
                 "argument names, stride and padding"):
        named = convolve_(images, kernel, stride=2, padding=1)
    if not (isinstance(named, torch.Tensor) and torch.allclose(named, _torch_convolution(images, kernel, 2, 1),
                                                               atol=1e-5)):
        raise Mistake("called with keywords, convolve(images, kernel, stride=2, padding=1), your function gives "
                      "another result than with the same values in order: use the arguments stride and padding.")
    check_follows_inputs(lambda x, w: convolve_(x, w, 2, 1),
                   lambda dtype, device: (torch.rand(2, 6, 5, dtype=dtype, device=device),
                                          torch.rand(3, 3, dtype=dtype, device=device)), "convolve", cpu_copies_allowed=False)


# Exercises 2 and 5: the encoder and the decoder, given only the shapes.

def _count(module, kinds):
    return sum(isinstance(m, kinds) for m in module.modules())


def _stages(module, inputs):
    """Run ``module`` on ``inputs`` with hooks; return (output or None, error or None, stages), where stages holds,
    for each nn.Conv2d in the order they ran, the shape after it and after any pooling that follows it."""
    stages, handles = [], []

    def after_conv(_module, _inputs, output):
        stages.append(tuple(output.shape))

    def after_pool(_module, _inputs, output):
        if stages:
            stages[-1] = tuple(output.shape)

    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(after_conv))
        elif isinstance(m, POOLING):
            handles.append(m.register_forward_hook(after_pool))
    try:
        if isinstance(module, nn.Sequential):
            trace_shapes(module, inputs)
        return module(inputs), None, stages
    except (ShapeError, RuntimeError) as error:
        return None, error, stages
    finally:
        for handle in handles:
            handle.remove()


def _first_wrong_stage(stages, wanted, what):
    """A Mistake for the first convolution whose output (after pooling) is not the table's shape, or None."""
    for index, (got, want) in enumerate(zip(stages, wanted)):
        if got != want:
            return Mistake(f"the {ORDINALS[index]} convolution of your {what} gives {got}; the table asks for {want}. "
                           f"{CONV_ARITHMETIC}.")
    return None


def _check_kernels(module, what):
    for index, conv in enumerate(m for m in module.modules() if isinstance(m, nn.Conv2d)):
        if tuple(conv.kernel_size) != (3, 3):
            raise Mistake(f"the {ORDINALS[index]} convolution of your {what} has kernel_size={conv.kernel_size}: the "
                          "exercise asks for 3 × 3 kernels; keep kernel_size=3 and choose stride and padding.")


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


def _one_image(module, inputs, shape, what):
    """Raise a Mistake unless ``module`` maps a batch of one to ``shape``."""
    with probing(f"for a batch of one, {what}", "a batch of one must work too: a .squeeze() drops its batch "
                 "dimension, and a fixed batch size in .view() breaks it"):
        output = module(inputs[:1])
    if output.shape != shape:
        raise Mistake(f"for a batch of one, your {what} gives {tuple(output.shape)}, not {shape}: a .squeeze() or a "
                      "fixed batch size in .view() breaks it; nn.Flatten() and nn.Unflatten(1, ...) work for any "
                      "batch.")


def _code_layer_mistake(code, what="encoder"):
    """A Mistake for a code of the wrong width, or an Unrecognised for another shape."""
    if code.dim() == 2 and len(code) == 5:
        return Mistake(f"the {what} gives {code.shape[1]} numbers per image, but code_size is 32: its last "
                       "nn.Linear should give code_size numbers.")
    return Unrecognised(f"the {what} should map images (5, 1, 28, 28) to codes (5, 32), but gave "
                        f"{tuple(code.shape)}: flatten the (16, 7, 7) map and end with an nn.Linear to code_size "
                        "numbers.")


ENCODER_KINDS = (nn.Conv2d, nn.Linear, nn.Flatten, *ACTIVATIONS, *POOLING)


ENCODER_STAGES = [(5, 8, 14, 14), (5, 16, 7, 7)]


@exercise("2", "the encoder, from its shapes", 3, f"{REFERENCE}.build_encoder")
def build_encoder(build):
    encoder = build(32)
    if not isinstance(encoder, nn.Module):
        raise Mistake(f"build_encoder(32) should return an nn.Module (e.g. nn.Sequential), not a {type(encoder).__name__}.")
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 2:
        raise Mistake(f"the encoder has {len(convs)} nn.Conv2d layers; the table has two, the first giving 8 "
                      "channels and the second 16, each followed by nn.ReLU().")
    _check_kernels(encoder, "encoder")
    if [(c.in_channels, c.out_channels) for c in convs] != [(1, 8), (8, 16)]:
        raise Mistake(f"your convolutions map channels {[(c.in_channels, c.out_channels) for c in convs]}; the table "
                      "asks for 1 → 8, then 8 → 16 (an image has one channel).")
    images = torch.rand(5, 1, 28, 28)
    code, error, stages = _stages(encoder, images)
    wrong_stage = _first_wrong_stage(stages, ENCODER_STAGES, "encoder")
    if wrong_stage:
        raise wrong_stage
    if error is not None and isinstance(encoder, nn.Sequential) and not _count(encoder, nn.Flatten):
        raise Mistake("the encoder breaks after its convolutions, which give (5, 16, 7, 7) as they should: nn.Linear "
                      "works on the last dimension only, so flatten each image's (16, 7, 7) map into one vector "
                      "first, with nn.Flatten().")
    if error is not None:
        linear = next((m for m in encoder.modules() if isinstance(m, nn.Linear)), None)
        expects = f" your nn.Linear expects {linear.in_features} numbers per image;" if linear is not None else ""
        raise Mistake(f"the encoder breaks after its convolutions, which give (5, 16, 7, 7) as they should:{expects} "
                      "how many numbers does one image's (16, 7, 7) map flatten to? (PyTorch said: "
                      f"{str(error).splitlines()[0][:200]})")
    if code.shape != (5, 32):
        raise _code_layer_mistake(code)
    narrow = _stages(build(7), images)[0]
    if narrow is None or narrow.shape != (5, 7):
        raise Mistake("with code_size=7 the code is not 7 wide: use the code_size argument, not a fixed 32.")
    _one_image(encoder, images, (1, 32), "encoder")
    encoder.train()
    check_deterministic(lambda: encoder(images), "encoder")
    if _too_few_activations(encoder, images):
        raise Mistake("without a nonlinearity after each convolution the layers collapse into one linear map: "
                      "put nn.ReLU() after each nn.Conv2d.")
    if (code >= 0).all():
        raise Mistake("the code never goes negative: end the encoder with the nn.Linear layer, with no ReLU or "
                      "sigmoid after it. A ReLU on the code can kill code units, as notebook 01 showed.")
    # A layer without parameters after the last Linear (a tanh, say) bounds or bends the code: a parameter count
    # cannot see it.
    code, linear = output_of_last(encoder, nn.Linear, lambda: encoder(images))
    if linear is not None and not torch.allclose(code, linear):
        raise Mistake("the code is not the output of the encoder's last nn.Linear: something after it changes the "
                      f"code{other_layers(encoder, ENCODER_KINDS)}. End the encoder with the nn.Linear layer.")
    check_layers(encoder, ["nn.Conv2d(1, 8, kernel_size=3)", "nn.Conv2d(8, 16, kernel_size=3)", "nn.Linear(784, 32)"],
                 "encoder")
    _check_gradients(encoder, code)


DECODER_STAGES = [(5, 8, 14, 14), (5, 1, 28, 28)]


@exercise("5", "the decoder, from its shapes", 3, f"{REFERENCE}.build_decoder")
def build_decoder(build):
    decoder = build(32)
    if not isinstance(decoder, nn.Module):
        raise Mistake(f"build_decoder(32) should return an nn.Module (e.g. nn.Sequential), not a {type(decoder).__name__}.")
    if _count(decoder, nn.ConvTranspose2d):
        raise Mistake("this exercise asks for upsampling (nn.Upsample(scale_factor=2)) followed by nn.Conv2d, not "
                      "nn.ConvTranspose2d: the transposed decoder comes later, to compare.")
    convs = [m for m in decoder.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 2:
        raise Mistake(f"the decoder has {len(convs)} nn.Conv2d layers; the table has two, one after each "
                      "upsampling.")
    _check_kernels(decoder, "decoder")
    codes = torch.randn(5, 32)
    images, error, stages = _stages(decoder, codes)
    wrong = next(((i, got, want) for i, (got, want) in enumerate(zip(stages, DECODER_STAGES)) if got != want), None)
    if wrong:
        index, got, want = wrong
        if got[2:] == (want[2] - 2, want[3] - 2):
            raise Mistake(f"the {ORDINALS[index]} convolution of your decoder gives {got}; the table asks for {want}: "
                          "it shrinks the side by 2. Which padding makes a 3 × 3 convolution with stride 1 keep the "
                          "side? (n_out = n + 2·padding − 3 + 1)")
        raise Mistake(f"the {ORDINALS[index]} convolution of your decoder gives {got}; the table asks for {want}. "
                      "Each nn.Upsample(scale_factor=2) doubles the side (7 → 14 → 28) and each convolution should "
                      "keep it, with the table's channels.")
    if error is not None:
        raise Mistake(f"the decoder breaks on codes of shape (5, 32): {str(error).splitlines()[0][:200]}. Its "
                      "nn.Linear should give 16 × 7 × 7 numbers per code, which nn.Unflatten(1, (16, 7, 7)) makes "
                      "into a map.")
    if images.shape == (5, 28, 28):
        raise Mistake("the decoder gives images of shape (5, 28, 28): the channel dimension is gone (a .squeeze()?). "
                      "Return (N, 1, 28, 28), what the last nn.Conv2d gives.")
    if images.shape != (5, 1, 28, 28):
        raise Unrecognised(f"the decoder should map codes (5, 32) to images (5, 1, 28, 28), but gave "
                           f"{tuple(images.shape)}.")
    try:
        takes_other_widths = _stages(build(7), torch.randn(5, 7))[0] is not None
    except Mistake:
        takes_other_widths = False
    if not takes_other_widths:
        raise Mistake("with code_size=7 the decoder does not take codes of width 7: use the code_size argument.")
    _one_image(decoder, codes, (1, 1, 28, 28), "decoder")
    decoder.train()
    check_deterministic(lambda: decoder(codes), "decoder")
    # The last convolution's outputs reach about ±5 for codes × 20, and far beyond for codes × 100.
    check_pixel_activation(decoder(codes * 20), decoder(codes * 100))
    activations = _count(decoder, ACTIVATIONS)  # a hand-written forward may use F.relu: no layers to count
    if activations < 2 and (activations or isinstance(decoder, nn.Sequential)):
        raise Mistake("put nn.ReLU() after the nn.Linear layer and after the first nn.Conv2d: without them the "
                      "decoder is one linear map followed by a sigmoid.")
    check_layers(decoder, ["nn.Linear(32, 784)", "nn.Conv2d(16, 8, kernel_size=3)", "nn.Conv2d(8, 1, kernel_size=3)"],
                 "decoder")
    _check_gradients(decoder, images)


# Exercises 3 and 4: predict, then run.

@question("3", "predict: dense vs conv parameters", 1, f"{REFERENCE}.predicted_ratio",
          "the dense encoder has 1,230,880 + 1,230,096 + 25,120 = 2,486,096 parameters, the convolutional one "
          "80 + 1,168 + 25,120 = 26,368: about 94 times fewer. On the layers they replace, the convolutions hold about "
          "2,000 times fewer parameters than the dense layers, but both encoders end with the same Linear(784, 32), "
          "25,120 parameters, 95% of the convolutional encoder.")
def predicted_ratio(answer):
    answer = choice(answer, ("a", "b", "c", "d"))
    hints = {"a": "(a) counts the shapes, not the weights: a dense layer has a weight for every (input, output) pair, "
                  "a convolution only its kernels, reused at every position",
             "b": "(b) is far too few: the first dense layer alone, Linear(784, 8 × 14 × 14), has 784 × 1,568 weights, "
                  "over a million, against the convolution's 80 parameters",
             "d": "(d) compares the convolutions with the dense layers they replace; both encoders also end with the "
                  "same Linear(784, 32), whose 25,120 parameters are most of the convolutional encoder"}
    if answer in hints:
        raise Mistake(hints[answer] + ".")


@question("4", "predict: a transposed conv's output side", 1, f"{REFERENCE}.predicted_side",
          "the 7 stamps of the 3 × 3 kernel, 2 pixels apart, span (7 − 1) × 2 + 3 = 15 pixels, and padding=1 trims "
          "one from each border: 13. (PyTorch's formula: (n − 1)·stride − 2·padding + kernel_size + output_padding.) "
          "A 3 × 3, stride-2, padding-1 convolution maps both 13 and 14 to 7, so the transposed one cannot know which "
          "you want: output_padding=1 adds the 14th row and column.")
def predicted_side(answer):
    side = as_float(answer, "the predicted side")
    hints = {14: "14 assumes it undoes the encoder's convolution exactly; count instead: 7 stamps, stride pixels "
                 "apart, each kernel_size wide, then padding trims each border",
             15: "15 is the stamps' span, (7 − 1) × 2 + 3; padding=1 then trims one row and one column from each "
                 "border",
             28: "28 is where the decoder is going after two such layers; this asks for one layer, from a side of 7",
             12: "12 trims too much: padding=1 removes one from each border, two in all, from the stamps' span of 15"}
    if side != 13:
        raise Mistake(hints.get(side, f"{answer!r} is not it: the stamps of the 3 × 3 kernel for the 7 input values, "
                                      "2 pixels apart, span (7 − 1) × 2 + 3 pixels; padding=1 trims one from each "
                                      "border") + ".")


# Exercise 6: the error of each image.

def _squared_error_model():
    torch.manual_seed(2)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 3), nn.Linear(3, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))


@exercise("6", "the error of each image", 2, f"{REFERENCE}.per_image_mse")
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
        if errors.numel() == 6:
            raise Mistake(f"the errors have shape {tuple(errors.shape)}: one per image, but with the averaged "
                          "dimensions kept (keepdim=True, or a mean over fewer dims): return shape (N,).")
        raise Unrecognised(f"expected one error per image, shape (6,); got {tuple(errors.shape)}.")
    if errors.requires_grad:
        raise Mistake("the errors carry a computation graph: compute them under `with torch.no_grad():`, since "
                      "nothing will be back-propagated and a graph over the whole test set costs memory.")
    errors = errors.detach().double()
    if torch.allclose(errors, expected.double(), rtol=1e-4):
        _check_per_image_mse_contract(measure, model, images)
        return
    with torch.no_grad():
        outputs = model(images)
    absolute = (outputs - images).abs().flatten(1).mean(1)
    in_order = "keep the images in their order: sort later, when you look for the worst"
    known = [(((outputs + images) ** 2).flatten(1).mean(1), "you added the images to the outputs: the error is "
                                                             "model(images) − images"),
             (((outputs - images) * 2).flatten(1).mean(1), "you multiplied the differences by 2: square them, ** 2"),
             ((outputs - images).flatten(1).mean(1), "you averaged the differences without squaring them, so errors "
                                                     "of opposite signs cancel: square them, ** 2"),
             (expected * 784, "you summed over the pixels: take their mean, so the errors are per pixel like every "
                              "other loss in this course"),
             (expected.sqrt(), "you took a square root: return the mean *squared* error"),
             (absolute, "you averaged absolute errors: square the differences"),
             (expected.sort(descending=True).values, in_order),
             (expected.sort().values, in_order)]
    name_known_mistake(errors, known, rtol=1e-4)
    raise Unrecognised("these are not the mean squared errors per pixel of each image between model(images) and "
                       "images.")


def _check_per_image_mse_contract(measure, model, images):
    """A batch of one image, then the dtype and device of the inputs kept (float64; the meta device for a GPU)."""
    case = "for a batch of one image"
    with probing(case, "a batch of one must work too: a .squeeze() drops its batch dimension"):
        one = measure(model, images[:1])
    with torch.no_grad():
        expected = ((model(images[:1]) - images[:1]) ** 2).mean()
    if not (isinstance(one, torch.Tensor) and one.shape == (1,)):
        shape = tuple(one.shape) if isinstance(one, torch.Tensor) else type(one).__name__
        raise Mistake(f"{case}, your function returned {shape}, not one error in a tensor of shape (1,): a "
                      ".squeeze() or a mean over all dims loses the batch dimension; mean over dims (1, 2, 3).")
    if not torch.allclose(one.detach().double(), expected.double().view(1), rtol=1e-4):
        raise Unrecognised(f"{case}, the error is {one.item():.5g}, not its mean squared error per pixel "
                           f"{expected.item():.5g}.")
    check_follows_inputs(lambda model, images: measure(model, images),
                         lambda dtype, device: (_squared_error_model().to(dtype=dtype, device=device),
                                                images[:3].to(dtype=dtype, device=device)), "per_image_mse", cpu_copies_allowed=False)


# Exercise 7: a design, trained by the check.

DESIGN_CODE_SIZE = 16
DESIGN_BUDGET = 10_000       # parameters: a dense autoencoder with a 16-number code needs over 25,000
DESIGN_MAX_MSE = 0.030       # test MSE per pixel after the check's training (see instructors/ for the measurements)
DESIGN_STEPS, DESIGN_BATCH, DESIGN_LR = 600, 32, 5e-3
# The cost of one training step, counted in floating-point operations (torch's FlopCounterMode), not timed: a timed
# limit failed correct designs whenever the machine was busy. The reference's step on 32 images is 27 million, notebook
# 02's own conv autoencoder's 76 million (7 ms each on one thread here); a billion is a 600-step check of a minute or
# two at worst on a laptop's single thread.
DESIGN_MAX_STEP_FLOPS = 1e9


def _largest_layers(model, n=3):
    layers = [(count_parameters(m), m) for m in model.modules()
              if not list(m.children()) and count_parameters(m)]
    return ", ".join(f"{layer}: {count:,}" for count, layer in sorted(layers, key=lambda pair: -pair[0])[:n])


def _checked_design(build, code_size=DESIGN_CODE_SIZE, probe=None):
    """Build the design at ``code_size``, check its shapes, budget and speed; return the model."""
    model = build(code_size)
    if not isinstance(model, nn.Module) or not all(isinstance(getattr(model, part, None), nn.Module)
                                                   for part in ("encoder", "decoder")):
        raise Mistake("return a model with an encoder and a decoder: utils.Autoencoder(encoder, decoder).")
    count = count_parameters(model)
    if count > DESIGN_BUDGET:
        raise Mistake(f"your design has {count:,} parameters, over the budget of {DESIGN_BUDGET:,}. Its largest "
                      f"layers: {_largest_layers(model)}. A Linear layer between the code and a feature map costs "
                      f"about code_size × channels × height × width: make the map it sees smaller (fewer channels, "
                      f"or one more downsampling); convolutions are cheap.")
    images = probe if probe is not None else design_images()[1][:5]
    with torch.no_grad():
        code = model.encoder(images)
        if not isinstance(code, torch.Tensor) or code.shape != (len(images), code_size):
            shape = tuple(code.shape) if isinstance(code, torch.Tensor) else type(code).__name__
            raise Mistake(f"the encoder should give codes of shape ({len(images)}, {code_size}) for "
                          f"{len(images)} images with code_size={code_size}; it gave {shape}: the code is the only "
                          "thing that passes from encoder to decoder, so it must be code_size numbers per image.")
        output = model(images)
        if not isinstance(output, torch.Tensor) or output.shape != images.shape:
            raise Mistake(f"the model should give images of shape {tuple(images.shape)}, like its input.")
        if not torch.allclose(output, model.decoder(code), atol=1e-5):
            raise Mistake("model(images) is not model.decoder(model.encoder(images)): nothing may reach the decoder "
                          "except the code.")
    return model


def measure_design(build, seed=0, train_slice=slice(0, 4096)):
    """Build the design from fresh seeded weights, train it with the check's budget, return (parameters, test MSE)."""
    train, test = design_images()
    train = train[train_slice]
    torch.manual_seed(seed)
    model = _checked_design(build, probe=test[:5])
    torch.manual_seed(seed)
    for module in model.modules():  # the design is the architecture, not weights trained elsewhere
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    batch = train[:DESIGN_BATCH]
    with FlopCounterMode(display=False) as counter:
        F.mse_loss(model(batch), batch).backward()
    model.zero_grad()
    per_step = counter.get_total_flops()
    if per_step > DESIGN_MAX_STEP_FLOPS:
        raise Mistake(f"one training step of your design on {DESIGN_BATCH} images costs {per_step / 1e9:.1f} billion "
                      f"operations, over the check's {DESIGN_MAX_STEP_FLOPS / 1e9:.0f} billion (the reference needs "
                      "0.03): downsample earlier, so that fewer convolutions run on the full 28 × 28 image.")
    train_briefly(model, train, steps=DESIGN_STEPS, batch_size=DESIGN_BATCH, lr=DESIGN_LR, seed=seed)
    return count_parameters(model), mse_on(model, test)


def judge_design(count, mse, where="on the check's 1,000 test images"):
    measured = (f"your design ({count:,} parameters) reached test MSE {mse:.4f} {where} after {DESIGN_STEPS} Adam "
                f"steps (target ≤ {DESIGN_MAX_MSE:.3f})")
    if mse > 0.1:
        raise Mistake(f"{measured}: about what a black image gives, so the model learned almost nothing. Are all the "
                      "units of a layer stuck at 0? A ReLU after a narrow layer can die, as code units did in notebook "
                      "01: try nn.LeakyReLU or nn.ELU, and end the decoder with nn.Sigmoid().")
    if mse > DESIGN_MAX_MSE:
        raise Mistake(f"{measured}. What helped the designs the course measured: more channels in the convolutions "
                      "(they are cheap), learned downsampling (strided convolutions) rather than fixed pooling alone, "
                      "and no ReLU right after a narrow layer, where a unit that dies stops learning (nn.LeakyReLU and "
                      "nn.ELU keep a gradient).")


@exercise("7", "design: a conv autoencoder on a budget", 4, f"{REFERENCE}.design_conv_autoencoder",
          kind="design")
def design_conv_autoencoder(build):
    count, mse = measure_design(build)
    judge_design(count, mse)
    print(f"   Your design: {count:,} parameters (budget {DESIGN_BUDGET:,}); test MSE {mse:.4f} (target ≤ "
          f"{DESIGN_MAX_MSE:.3f}) after {DESIGN_STEPS} Adam steps of {DESIGN_BATCH} images at learning rate "
          f"{DESIGN_LR:g}.")
