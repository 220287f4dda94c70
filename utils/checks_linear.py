"""Checks for notebook 01, the linear autoencoder. Each test runs the learner's code on seeded inputs, compares it
with an oracle computed another way, and names the mistake when it recognises one."""
import torch
from torch import nn

from .checks import Mistake, check_one_step, close, exercise, sgd_step_oracle, tiny_autoencoder

REFERENCE = "nb01_linear_autoencoder"


@exercise("1", "the seed's 784-32-784 model", 2, f"{REFERENCE}.build_autoencoder")
def build_autoencoder(build):
    model = build(32)
    if not isinstance(model, nn.Module):
        raise Mistake(f"build_autoencoder(32) should return an nn.Module, not a {type(model).__name__}.")
    images = torch.rand(6, 1, 28, 28)
    output = model(images)
    if output is images or (output.shape == images.shape and torch.allclose(output, images)):
        raise Mistake("the model returns its input unchanged: an identity map has nothing to learn. "
                      "The encoder must squeeze each image into code_size numbers and the decoder rebuild it.")
    if not (isinstance(getattr(model, "encoder", None), nn.Module) and isinstance(getattr(model, "decoder", None), nn.Module)):
        raise Mistake("return utils.Autoencoder(encoder, decoder), so that model.encoder and model.decoder exist.")
    code = model.encoder(images)
    if code.dim() != 2 or code.shape[0] != 6:
        raise Mistake(f"the encoder should map images (N, 1, 28, 28) to codes (N, code_size), but gave "
                      f"{tuple(code.shape)}: start it with nn.Flatten().")
    if code.shape[1] != 32:
        raise Mistake(f"the encoder gives {code.shape[1]} numbers per image, but the code should be code_size = 32 "
                      "wide: nn.Linear(784, code_size).")
    if build(7).encoder(images).shape[1] != 7:
        raise Mistake("with code_size=7 the code is not 7 wide: use the code_size argument, not a fixed 32.")
    if (code < 0).any():
        raise Mistake("the code has negative values: the seed's encoder ends with nn.ReLU().")
    if not (code == 0).any():
        raise Mistake("no code value is exactly 0 on random images, as a ReLU would give: "
                      "the seed's encoder ends with nn.ReLU(), not a sigmoid or tanh.")
    if output.shape != images.shape:
        raise Mistake(f"the model should return images shaped like its input, (6, 1, 28, 28), but gave "
                      f"{tuple(output.shape)}: end the decoder with nn.Unflatten(1, (1, 28, 28)).")
    extreme = model(images * 50 - 25)  # drives every pre-activation far from 0
    if extreme.min() < 0 or extreme.max() > 1:
        raise Mistake("outputs leave [0, 1], the range of a pixel: end the decoder with nn.Sigmoid().")
    n_parameters = sum(p.numel() for p in model.parameters())
    if n_parameters != 784 * 32 + 32 + 32 * 784 + 784:
        raise Mistake(f"the seed's model has 50,992 parameters (nn.Linear(784, 32) and nn.Linear(32, 784)); "
                      f"yours has {n_parameters:,}.")
    model(images).mean().backward()
    for name, parameter in model.named_parameters():
        if parameter.grad is None or not parameter.grad.abs().sum() > 0:
            raise Mistake(f"no gradient reaches {name}: is something detached (.detach(), .data, torch.no_grad())?")


@exercise("2", "one training step", 3, f"{REFERENCE}.train_step")
def train_step(step):
    model, images, lr, leftover = tiny_autoencoder(), torch.rand(8, 1, 28, 28), 0.5, 0.01
    before = [p.detach().clone() for p in model.parameters()]
    expected_loss, expected_params = sgd_step_oracle(model, images, images, lr)
    _, stale_params = sgd_step_oracle(model, images, images, lr, leftover)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for p in model.parameters():
        p.grad = torch.full_like(p, leftover)  # as an earlier step would have left them
    returned = step(model, optimizer, images)

    if isinstance(returned, torch.Tensor):
        raise Mistake("return loss.item(), a Python float, not the loss tensor (a kept tensor keeps its whole "
                      "graph in memory).")
    if not isinstance(returned, (float, int)):
        raise Mistake(f"train_step should return the batch's loss as a float, but returned {type(returned).__name__}.")
    for factor, mistake in [(784 * 8, "summed the squared errors over all pixels and images"),
                            (784, "summed over the 784 pixels"), (8, "multiplied the loss by the batch size")]:
        if close(returned, expected_loss * factor, rtol=1e-3):
            raise Mistake(f"you {mistake}: return the mean squared error per pixel (F.mse_loss's default mean).")
    if not close(returned, expected_loss, rtol=1e-3):
        raise Mistake(f"returned {returned:.5g}, but the mean squared error per pixel between model(images) and "
                      f"images, before the step, is {expected_loss:.5g}.")

    check_one_step(model, before, stale_params, expected_params,
                   "the mean squared error between model(images) and images")

    # One pattern repeated (random pixels cannot be compressed: their error floor is their variance, 1/12).
    model, images = tiny_autoencoder(), torch.rand(1, 1, 28, 28).repeat(16, 1, 1, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    losses = [step(model, optimizer, images) for _ in range(30)]
    if not losses[-1] < 0.5 * losses[0]:  # a correct step reaches about 0.27 × the first loss
        raise Mistake(f"over 30 steps on one small batch the loss went from {losses[0]:.4g} to {losses[-1]:.4g}; "
                      "it should fall steadily.")


def _pca_oracle(train_images, test_images, k, centred=True, test_mean=False):
    """PCA through the eigenvectors of the covariance matrix (in float64): a different route from an SVD.
    ``test_mean`` reproduces a known slip: centring the test images on their own mean."""
    data = train_images.flatten(1).double()
    mean = data.mean(0) if centred else torch.zeros(data.shape[1], dtype=torch.float64)
    _, eigenvectors = torch.linalg.eigh((data - mean).T @ (data - mean))  # ascending eigenvalues
    basis = eigenvectors[:, -k:]
    test = test_images.flatten(1).double()
    if test_mean:
        mean = test.mean(0)
    return ((test - mean) @ basis @ basis.T + mean).float().view_as(test_images), mean.float().view(1, 1, 28, 28)


def _low_rank_images(n, generator_seed):
    # A known spectrum with clear gaps (each direction 16% weaker than the last) around a non-zero mean image.
    generator = torch.Generator().manual_seed(generator_seed)
    directions = torch.linalg.qr(torch.randn(784, 30, generator=torch.Generator().manual_seed(7)))[0]
    weights = torch.randn(n, 30, generator=generator) * 0.84 ** torch.arange(30)
    mean = torch.linspace(0.2, 0.6, 784)
    return (mean + weights @ directions.T + 0.001 * torch.randn(n, 784, generator=generator)).view(n, 1, 28, 28)


@exercise("3", "PCA reconstruction", 3, f"{REFERENCE}.pca_reconstruction")
def pca_reconstruction(reconstruct):
    # More training images than pixels, as with MNIST, so that Vh is square and a transposed slice runs (wrongly).
    train, test = _low_rank_images(1000, 1), _low_rank_images(100, 2)
    train_copy = train.clone()
    for k in (5, 12):
        result = reconstruct(train, test, k)
        if not torch.equal(train, train_copy):
            raise Mistake("your function changed train_images in place (e.g. `data -= mean` on a view of it): "
                          "write `data = data - mean` so the caller's images stay as they were.")
        if not isinstance(result, torch.Tensor) or result.shape != test.shape:
            shape = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
            raise Mistake(f"return the reconstructed test images shaped like test_images, {tuple(test.shape)}; "
                          f"got {shape}.")
        if torch.allclose(result, test):
            raise Mistake("the reconstructions are the test images themselves: project onto k components.")
        expected, mean = _pca_oracle(train, test, k)
        if torch.allclose(result, expected, atol=1e-4):
            continue
        known = [
            (_pca_oracle(train, test, k, centred=False)[0], "you did not centre the data: subtract the training "
                                                           "mean before projecting, and add it back after."),
            (expected - mean, "you forgot to add the training mean back after projecting."),
            (_pca_oracle(train, test, k, test_mean=True)[0], "centre with the training images' mean: the test "
                                                             "images must not be used to fit PCA."),
            (_pca_oracle(train, test, k - 1)[0], f"you kept {k - 1} components instead of k = {k}."),
            (_pca_oracle(train, test, k + 1)[0], f"you kept {k + 1} components instead of k = {k}."),
        ]
        for wrong, hint in known:
            if torch.allclose(result, wrong, atol=1e-4):
                raise Mistake(hint)
        kept = (result - mean).norm() / (expected - mean).norm()  # how much of the variation survived
        if kept < 0.2:
            raise Mistake("your reconstructions keep almost none of the images' variation. Either you kept the k "
                          "directions of *least* variance (torch.linalg.svd sorts singular values in descending "
                          "order, torch.linalg.eigh ascending), or you took columns of Vh where rows belong: the "
                          "directions are the first k rows of Vh, so V = Vh[:k].T.")
        raise Mistake("the result is not the projection onto the top-k principal directions: with "
                      "U, S, Vh = torch.linalg.svd(centred_train, full_matrices=False) they are the first k rows "
                      "of Vh, and a reconstruction is mean + (x - mean) @ V @ V.T with V = Vh[:k].T.")
