"""Settings for every test: a fixed seed and one torch thread.

torch seeds its global generator differently in every process, so a test that builds a model without seeding
would start from another initialisation each run. One intra-op thread keeps the many small tensors of the suite
fast and stable on a 2-core machine, where two threads per process fight each other and other jobs.
"""

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seeded_single_thread():
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def input_dependent(model: torch.nn.Module, seed: int = 2) -> torch.nn.Module:
    """``model`` with every normalisation whose affine scale starts at zero (GTCRN's last one, so that its mask
    starts as a constant gain) given scales around 1, as training leaves them: then every output sample depends on
    the input through the whole network, and causality, streaming and export checks exercise all of it."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            w = getattr(m, "weight", None)
            if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm, torch.nn.LayerNorm)) \
                    and w is not None and not w.any():
                w.copy_(0.5 + torch.rand(w.shape, generator=gen))
    return model


def recipe_script(name: str):
    """The module ``recipes/pool/NAME.py`` (a script, not a package), loaded from its file."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "recipes" / "pool" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
