"""CUDA: every family's structure-aware apply, the skip module and a training run on the GPU.

Skipped on machines without CUDA (CI has none); run on a GPU machine to check the device path.
"""

import pytest
import torch

import entangled as E
from entangled.nn import EntangledSkip

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available on this machine")


@pytest.mark.parametrize("family", E.families())
@pytest.mark.parametrize("n", [7, 64, 1024])
def test_apply_on_cuda_matches_cpu(family, n):
    m = E.make_mapping(family, n, seed=1)
    x = torch.randn(3, n, 5, dtype=torch.float64)
    expected = m.apply(x, dim=1)
    got = m.apply(x.cuda(), dim=1)
    assert got.device.type == "cuda" and got.dtype == torch.float64
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-10, atol=1e-10)
    x32 = x.float().cuda().requires_grad_()
    m.apply(x32, dim=1).sum().backward()
    torch.testing.assert_close(x32.grad.cpu().double(), m.matrix().sum(0).view(1, n, 1).expand(3, n, 5),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", E.families())
def test_skip_module_moves_to_cuda(family):
    skip = EntangledSkip(E.make_mapping(family, 16, seed=2), dim=1).cuda()
    assert all(b.device.type == "cuda" for b in skip.buffers())
    x = torch.randn(4, 16, 3, 3)
    torch.testing.assert_close(skip(x.cuda()).cpu(), EntangledSkip(skip.mapping, dim=1)(x),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch,task", [("cnn", "digits"), ("vit", "digits"),
                                       ("transformer", "delayed_recall"), ("rnn", "copy_memory")])
def test_fit_runs_on_cuda_with_a_structured_skip(arch, task):
    from entangled.train import RunConfig, fit

    result = fit(RunConfig(arch=arch, task=task, family="sparse", params={"strength": 0.5},
                           steps=60, device="cuda"))
    assert result.device.startswith("cuda") and result.status == "ok"
    assert result.test_accuracy > result.chance_accuracy


@pytest.mark.parametrize("arch,task", [("cnn", "digits"), ("rnn", "delayed_recall"),
                                       ("transformer", "counting")])
def test_seed_batched_training_on_cuda_matches_unbatched(arch, task):
    """``fit_batch`` on the GPU: every run as trained alone on the GPU, up to rounding."""
    from entangled.batched import fit_batch
    from entangled.train import RunConfig, fit

    configs = [RunConfig(arch=arch, task=task, family="orthogonal", seed=s, skip_seed=s,
                         steps=5, eval_every=5, metrics=False, device="cuda") for s in (0, 1)]
    for config, result in zip(configs, fit_batch(configs)):
        alone = fit(config)
        assert result.device == "cuda" and result.config_hash == alone.config_hash
        assert result.curves.step == alone.curves.step
        for a, b in zip(alone.curves.val_loss, result.curves.val_loss):
            assert b == pytest.approx(a, rel=1e-3)
