"""Shared fixtures: every device test runs on the CPU, and on CUDA when there is one."""

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """A torch device; CUDA is added automatically where available."""
    return torch.device(request.param)


@pytest.fixture
def gen():
    """A seeded CPU generator, so each test's random inputs are fixed."""
    return torch.Generator().manual_seed(1234)
