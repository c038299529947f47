import os

import jax
import pytest

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

from contractjax import scenarios  # noqa: E402

ALL = scenarios.names()


@pytest.fixture(scope="session")
def x64():
    """Run a test body in float64, as the oracles and evaluations do."""
    with jax.enable_x64(True):
        yield
