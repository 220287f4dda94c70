"""Hidden checks for notebook 09 (utils/checks_sae.py). The public checks take the top-k activation on 6 inputs of 12
latents (k = 4, 1 and 12), one input of 12 (k = 5) and one tied row of 8 (k = 2); the SAE's loss on 6 inputs of 5
numbers and 7 latents, l1_weight 0.7 and 0; the dead-latent count on 50 inputs of 8 latents in batches of 16, 7 and 64,
codes of at least 0.1; the auxiliary loss on 5 inputs of 4 numbers and 9 latents (5 dead), k_aux 1, 2, 3 and 7; and
the design trained from seed 0. Here: other shapes, k and k_aux, a batch of one, float64 values (not only dtypes),
l1_weight 0 and 2.5, tiny codes that still fire, inputs left unmodified, and the design retrained from another
seed."""
import torch

from utils import checks_sae as public
from utils.checks import Mistake
from utils.reference import nb09_sparse_autoencoders_for_interpretability as reference
from utils.sae import SparseAutoencoder

from ._support import _call, _close, _probing, _tensor, _unchanged


def topk_activation(activation):
    generator = torch.Generator().manual_seed(21)
    for shape, k, dtype in [((1, 9), 9, torch.float32), ((5, 3), 2, torch.float64), ((7, 40), 6, torch.float64),
                            ((2, 1), 1, torch.float32)]:
        case = f"with pre-activations of shape {shape} in {dtype} and k = {k}"
        pre = torch.randn(*shape, generator=generator, dtype=dtype) * 3
        copy_of = pre.clone()
        result = _call(case, activation, pre, k)
        _unchanged([(pre, copy_of, "the pre-activations")], case)
        result = _tensor(result, case, shape=shape, dtype=dtype)
        if not public._is_topk(result, copy_of, k):
            raise Mistake(f"{case}, the result is not each row's k largest pre-activations through a ReLU, zeros "
                          "elsewhere.")
        leaf = copy_of.clone().requires_grad_(True)
        with _probing(f"{case}, back-propagating through the codes"):
            (grad,) = torch.autograd.grad(activation(leaf, k).sum(), leaf)
        if not torch.equal(grad != 0, result.detach() > 0):
            raise Mistake(f"{case}, the gradient does not reach exactly the kept, positive pre-activations.")


def _sae(inputs, latents, seed, dtype):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sae = SparseAutoencoder(inputs, latents, torch.relu).to(dtype)
        with torch.no_grad():
            sae.pre_bias.normal_(0, 0.3)
            sae.encoder.bias.fill_(0.2)
            sae.decoder.weight.mul_(torch.linspace(0.5, 2.0, latents, dtype=dtype))
    return sae


def sae_loss(loss_fn):
    for batch, inputs, latents, weight, dtype in [(1, 3, 11, 2.5, torch.float32), (3, 8, 4, 0.0, torch.float32),
                                                  (4, 6, 10, 0.3, torch.float64)]:
        case = f"with a batch of {batch}, {inputs} numbers per input, {latents} latents, l1_weight {weight} and {dtype}"
        sae, twin = _sae(inputs, latents, batch, dtype), _sae(inputs, latents, batch, dtype)
        x = torch.randn(batch, inputs, generator=torch.Generator().manual_seed(batch), dtype=dtype)
        copy_of = x.clone()
        value = _call(case, loss_fn, sae, x, weight)
        _unchanged([(x, copy_of, "the activations")], case)
        value = _tensor(value, case, dtype=dtype)
        if value.numel() != 1 or not value.requires_grad:
            raise Mistake(f"{case}, the loss is not one number that can be back-propagated.")
        expected = reference.sae_loss(twin, x, weight)
        if not _close(value, expected, rtol=1e-8 if dtype == torch.float64 else 1e-5, atol=1e-9):
            raise Mistake(f"{case}, the loss is {value.item():.6g}, which is not the SAE's loss.")
        with _probing(f"{case}, back-propagating the loss"):
            value.backward()
        expected.backward()
        for (name, p), q in zip(sae.named_parameters(), twin.parameters()):
            if p.grad is None or not _close(p.grad, q.grad, rtol=1e-3, atol=1e-7):
                raise Mistake(f"{case}, the loss's gradient with respect to {name} is not the correct one.")


def dead_latents(count_dead):
    generator = torch.Generator().manual_seed(22)
    for n, latents, size, dtype in [(1, 5, 3, torch.float32), (23, 6, 5, torch.float64), (40, 9, 40, torch.float32)]:
        case = f"with {n} input{'s' if n > 1 else ''}, {latents} latents, batches of {size} and {dtype}"
        codes = torch.relu(torch.randn(n, latents, generator=generator, dtype=dtype) - 1.0) * 1e-4  # tiny, yet firing
        codes[:, 0] = 0.0
        codes[-1, 1] = 3e-7                      # fires once, for the last input only
        activations = torch.cat([torch.arange(n, dtype=dtype).unsqueeze(1), torch.zeros(n, 2, dtype=dtype)], dim=1)
        copy_of = activations.clone()
        result = _call(case, count_dead, public._Recorder(codes), activations, size)
        _unchanged([(activations, copy_of, "the activations")], case)
        result = _tensor(result, case, shape=(latents,), dtype=torch.bool)
        expected = ~(codes > 0).any(dim=0)
        if not torch.equal(result, expected):
            raise Mistake(f"{case}, the mask is {result.int().tolist()}, not {expected.int().tolist()} (every code "
                          "above 0, however small, is a firing).")


def auxiliary_loss(aux_fn):
    generator = torch.Generator().manual_seed(23)
    for n, d, m, dead_count, k_aux, dtype in [(1, 3, 6, 2, 4, torch.float64), (6, 5, 12, 7, 3, torch.float32),
                                              (3, 2, 4, 4, 4, torch.float64)]:
        case = f"with {n} input{'s' if n > 1 else ''}, d = {d}, {m} latents of which {dead_count} dead, k_aux = {k_aux}" \
               f" and {dtype}"
        residual = torch.randn(n, d, generator=generator, dtype=dtype)
        pre = torch.randn(n, m, generator=generator, dtype=dtype)
        dead = torch.zeros(m, dtype=torch.bool)
        dead[torch.randperm(m, generator=generator)[:dead_count]] = True
        weight = torch.randn(d, m, generator=generator, dtype=dtype)
        leaves = [tensor.clone().requires_grad_(True) for tensor in (residual, pre, weight)]
        value = _call(case, aux_fn, leaves[0], leaves[1], dead.clone(), leaves[2], k_aux)
        _unchanged([(leaf.detach(), tensor, name) for leaf, tensor, name in
                    zip(leaves, (residual, pre, weight), ("the residual", "the pre-activations", "the decoder"))], case)
        value = _tensor(value, case, dtype=dtype)
        expected = reference.auxiliary_loss(residual, pre, dead, weight, k_aux)
        if value.numel() != 1 or not _close(value, expected, rtol=1e-8 if dtype == torch.float64 else 1e-5,
                                            atol=1e-9):
            raise Mistake(f"{case}, the auxiliary loss is not the correct one.")
        with _probing(f"{case}, back-propagating the loss"):
            grads = torch.autograd.grad(value, leaves, allow_unused=True)
        oracle = [tensor.clone().requires_grad_(True) for tensor in (pre, weight)]
        want = torch.autograd.grad(reference.auxiliary_loss(residual, oracle[0], dead, oracle[1], k_aux), oracle)
        if grads[0] is not None and grads[0].abs().max() > 0:
            raise Mistake(f"{case}, a gradient reaches the residual.")
        for got, wanted, name in zip(grads[1:], want, ("the pre-activations", "the decoder's weights")):
            if got is None or not _close(got, wanted, rtol=1e-5, atol=1e-9):
                raise Mistake(f"{case}, the gradient with respect to {name} is not the correct one.")


def sae_design(design_fn):
    first = _call("calling sae_design()", design_fn)
    again = _call("calling sae_design() a second time", design_fn)
    design = public.read_design(first)
    if public.read_design(again) != design:
        raise Mistake("sae_design() returned another design when called again: return fixed numbers.")
    l0, fvu, dead, _ = public.measure_design(*design, seed=1)
    public.judge_design(design, l0, fvu, dead, run="retrained from another seed")
