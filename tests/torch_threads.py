"""One torch thread for a test module (`from torch_threads import one_torch_thread`; it is autouse).

Small models on the shared 2-core CPU: a second OpenMP thread mostly waits for a core that another
process holds (the micro world model ran 5x slower with two).
"""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
