"""The algorithm registry: one registration per algorithm, read by config, sweeps, experiments and the CLI;
an algorithm registered from user code trains end to end."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from contractjax import batch, cli, experiments, solver
from contractjax.domain import InputError
from contractjax.solver import config, sweeps
from contractjax.solver.algos import registry
from contractjax.solver.algos.registry import AlgoSpec
from tests.conftest import TINY

#: Today's built-in algorithms: their order, defaults and labels must not change.
BUILT_IN = {
    "diffusion_sac": ("diffusion SAC", {}),
    "diffusion_ddpg": ("diffusion DDPG", {"pruning": "none", "explore_std": 0.1}),
    "sac": ("SAC", {"pruning": "none", "auto_alpha": True, "alpha": 0.1, "actor_lr": 3e-4}),
    "ddpg": ("DDPG", {"pruning": "none", "actor_lr": 3e-4, "explore_std": 0.1}),
    "td3": ("TD3", {"pruning": "none", "actor_lr": 3e-4, "policy_delay": 2, "explore_std": 0.1}),
    "ppo": ("PPO", {"pruning": "none", "envs_per_step": 256, "actor_lr": 3e-4, "warmup": 0}),
    "amortized": ("amortized (exact gradient)", {"pruning": "none", "warmup": 0, "actor": "mlp"}),
}
MY_DEFAULTS = dict(registry.get("sac").defaults) | {"actor_lr": 5e-4, "alpha": 0.05}


@pytest.fixture
def my_sac() -> Iterator[AlgoSpec]:
    """``my_sac``: built exactly like ``sac``, with other defaults; unregistered afterwards."""
    spec = registry.register(AlgoSpec("my_sac", "my SAC", registry.get("sac").build, MY_DEFAULTS))
    try:
        yield spec
    finally:
        registry.unregister("my_sac")


def test_built_in_algorithms_keep_their_names_defaults_and_labels() -> None:
    assert config.ALGOS == registry.names() == tuple(BUILT_IN)
    assert config.ALGO_DEFAULTS == {name: d for name, (_, d) in BUILT_IN.items()}
    assert experiments.ALGO_LABELS == {name: label for name, (label, _) in BUILT_IN.items()}
    assert experiments.catalog.paper_algos() == tuple(BUILT_IN)
    panel = experiments.EXPERIMENTS["dt-fig4"].panels[0]
    assert [s["algo"] for s in panel.series.values()][:len(BUILT_IN)] == list(BUILT_IN)


def test_a_registered_algorithm_is_listed_everywhere_and_removed_after(my_sac) -> None:
    assert config.ALGOS[-1] == "my_sac" and config.ALGO_DEFAULTS["my_sac"] == MY_DEFAULTS
    assert experiments.ALGO_LABELS["my_sac"] == "my SAC"
    algo_help = next(a.help for a in cli.build_parser()._subparsers._group_actions[0].choices["train"]._actions
                     if "--algo" in a.option_strings)
    assert "my_sac" in algo_help and "diffusion_sac (default)" in algo_help
    cfg = solver.make_config(algo="my_sac")
    assert (cfg.actor_lr, cfg.alpha, cfg.auto_alpha, cfg.pruning) == (5e-4, 0.05, True, "none")
    plan = sweeps.expand({"scenario": "dt", "algos": ["my_sac", "sac"], "set": dict(TINY)})
    lrs = {m.cfg.algo: m.cfg.actor_lr for m in plan.members}
    assert lrs == {"my_sac": 5e-4, "sac": 3e-4}
    registry.unregister("my_sac")
    try:
        assert "my_sac" not in config.ALGOS and "my_sac" not in experiments.ALGO_LABELS
        with pytest.raises(InputError, match="'my_sac'"):
            solver.make_config(algo="my_sac")
    finally:
        registry.register(my_sac)  # for the fixture's clean-up


def test_a_user_registered_algorithm_trains_end_to_end(my_sac, tmp_path) -> None:
    s = solver.train("dt", out=tmp_path / "run", progress=False, algo="my_sac", **TINY)
    assert s["algo"] == "my_sac" and s["steps"] == TINY["steps"]
    assert s["config"]["actor_lr"] == 5e-4 and s["config"]["alpha"] == 0.05 and s["config"]["auto_alpha"] is True
    assert s["eval"]["feasible"] == 1.0 and s["eval"]["principal_utility"] == s["eval"]["principal_utility"]  # finite
    pol = solver.load(tmp_path / "run")  # the saved run reads back with its algorithm
    assert pol.config.algo == "my_sac"
    menus = pol.menus(batch.sample_envs("dt", n=4, seed=1))
    assert all(np.isfinite(v).all() and len(v) == 4 for v in menus.values())


def test_a_duplicate_name_is_a_one_line_error(my_sac) -> None:
    for name in ("sac", "my_sac"):
        with pytest.raises(InputError, match="already registered") as e:
            registry.register(AlgoSpec(name, "again", registry.get("sac").build))
        assert "\n" not in str(e.value) and f"'{name}'" in str(e.value)
    assert registry.get("sac").label == "SAC" and registry.get("my_sac") is my_sac  # unchanged
    assert registry.register(AlgoSpec("my_sac", "replaced", my_sac.build), replace=True).label == "replaced"
    with pytest.raises(InputError, match="letters, digits"):
        AlgoSpec("my sac", "x", my_sac.build)


def test_an_unknown_algorithm_lists_the_registered_ones(my_sac, capsys) -> None:
    with pytest.raises(config.FieldError) as e:
        solver.make_config(algo="a2c")
    msg = str(e.value)
    assert msg.startswith("config field 'algo' = 'a2c': choose one of ") and "\n" not in msg
    assert all(name in msg for name in (*BUILT_IN, "my_sac"))
    with pytest.raises(config.FieldError, match="my_sac"):
        config.validate(config.Config(algo="a2c"))
    with pytest.raises(InputError, match="my_sac"):
        registry.get("a2c")
    with pytest.raises(sweeps.SweepError, match="my_sac"):
        sweeps.expand({"scenario": "dt", "algos": ["a2c"]})
    rc = cli.main(["train", "--scenario", "dt", "--algo", "a2c", "--out", "/tmp/never-written"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "my_sac" in err[0], err
