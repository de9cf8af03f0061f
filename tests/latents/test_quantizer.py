"""QLAE's scalar quantizer: one codebook per dim, nearest value, straight-through gradients."""

from __future__ import annotations

import torch

from codec.latents.model import LatentAE, ScalarQuantizer, weight_decay_groups


def test_codebooks_start_as_linspace_one_per_dim() -> None:
    q = ScalarQuantizer(3, 10)
    assert q.values.shape == (3, 10)
    assert torch.allclose(q.values[1], torch.linspace(-0.5, 0.5, 10))


def test_forward_picks_the_nearest_value_of_each_dims_own_codebook() -> None:
    q = ScalarQuantizer(2, 3)
    with torch.no_grad():
        q.values.copy_(torch.tensor([[-1.0, 0.0, 1.0], [10.0, 20.0, 30.0]]))
    z = torch.tensor([[0.4, 26.0], [-0.7, 0.0]])
    z_hat, idx, _, _ = q(z)
    assert idx.tolist() == [[1, 2], [0, 0]]
    assert z_hat.tolist() == [[0.0, 30.0], [-1.0, 10.0]]
    assert q.lookup(idx).tolist() == z_hat.tolist()


def test_straight_through_gradient_reaches_the_encoder_unchanged() -> None:
    q = ScalarQuantizer(4, 10)
    z = torch.randn(5, 4, requires_grad=True)
    z_hat, _, _, _ = q(z)
    g = torch.randn(5, 4)
    (z_hat * g).sum().backward()
    assert torch.equal(z.grad, g)  # identity through the rounding
    assert q.values.grad is None or not q.values.grad.any()  # the decoder's loss does not move the values


def test_quantization_loss_moves_values_and_commitment_moves_the_encoder() -> None:
    q = ScalarQuantizer(2, 5)
    z = torch.tensor([[0.33, -0.1]], requires_grad=True)
    _, idx, quant, commit = q(z)
    quant.backward(retain_graph=True)
    assert z.grad is None  # the codebook loss stops at the encoder
    moved = q.values.grad.nonzero().tolist()
    assert moved == [[0, int(idx[0, 0])], [1, int(idx[0, 1])]]  # only the chosen value of each dim
    q.values.grad = None
    commit.backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert q.values.grad is None or not q.values.grad.any()


def test_weight_decay_spares_codebooks_biases_and_norms() -> None:
    m = LatentAE({"latent": "qlae", "latents": 4, "channels": 1, "width": 2, "levels": 10})
    decayed, kept = weight_decay_groups(m, 0.1)
    names = {id(p): n for n, p in m.named_parameters()}
    kept_names = {names[id(p)] for p in kept["params"]}
    assert "quantizer.values" in kept_names and "decoder.start" in kept_names
    assert all(
        p.ndim == 1 for p in kept["params"] if names[id(p)] not in ("quantizer.values", "decoder.start")
    )
    assert decayed["weight_decay"] == 0.1 and kept["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decayed["params"])
