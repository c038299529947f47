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


@pytest.fixture(scope="module", autouse=True)
def _release_compiled_programs():
    """Each compiled XLA CPU program holds hundreds of memory mappings and a process may hold
    ~65k: the whole suite in one process would abort, so every module releases its programs."""
    yield
    from contractjax.solver import program

    program.release_compiled()


@pytest.fixture(scope="session")
def x64():
    """Run a test body in float64, as the oracles and evaluations do."""
    with jax.enable_x64(True):
        yield

#: A training configuration small enough for seconds-long CPU tests.
TINY = dict(actor_hidden=(32, 32), critic_hidden=(32, 32), batch=32, envs_per_step=8, buffer=512, chunk=10,
            steps=20, eval_envs=20, eval_every=0, checkpoint_every=10, warmup=5, prune_every=5, prune_steps=2,
            denoise_steps=3)


def tiny(scenario: str = "dt", **kw):
    from contractjax import solver

    return solver.make_config("quick", scenario=scenario, **(TINY | kw))


def tiny_train_args(scenario: str, out) -> list[str]:
    """``contractjax train`` arguments for a 20-iteration run of the tiny config into ``out``."""
    args = ["train", "--scenario", scenario, "--steps", "20", "--out", str(out), "--quiet"]
    for k, v in TINY.items():
        if k != "steps":
            args += ["--set", f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"]
    return args
