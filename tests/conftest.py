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
