import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one token's matmuls take microseconds, and on shared cores a second
    torch thread costs more in hand-offs than it saves."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
