import os

import jax
import pytest

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

from hypothesis import settings  # noqa: E402

from contractjax import scenarios  # noqa: E402

# CI runs a fixed set of examples (reproducible); locally hypothesis explores new ones each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ALL = scenarios.names()


@pytest.fixture(scope="session")
def x64():
    """Run a test body in float64, as the oracles and evaluations do."""
    with jax.enable_x64(True):
        yield
