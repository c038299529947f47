"""Config: one declaration per field (kind, default, doc), layered values, one-line errors."""

from __future__ import annotations

import dataclasses

import pytest

from contractjax import cli, solver
from contractjax.solver import config, program
from tests.conftest import tiny


def test_traced_fields_are_declared_once_and_derive_hyper_and_structure() -> None:
    kinds = {f.name: f.metadata["kind"] for f in dataclasses.fields(config.Config)}
    assert config.Hyper._fields == config.TRACED == tuple(k for k, v in kinds.items() if v == "traced")
    assert set(config.TRACED).isdisjoint(dict(config.structure(config.Config())))
    h = config.hyper(config.Config(actor_lr=0.5), action_dim=4)
    assert float(h.actor_lr) == 0.5 and float(h.target_entropy) == -4.0
    # configs that differ in traced and bookkeeping fields share one program
    a, b = tiny(), tiny(actor_lr=3e-5, penalty=2.0, seed=9, steps=99)
    assert program.for_config(a) is program.for_config(b)
    assert program.for_config(tiny(denoise_steps=4)) is not program.for_config(a)


@pytest.mark.parametrize("name", ["bad_field=1", "actor_lr=-1", "param=weird", "actor_hidden=a,b", "algo=a2c",
                                  "actor_lr=inf", "penalty=nan", "eval_chain=mode", "eval_actor=best"])
def test_config_errors_name_the_field(name, capsys) -> None:
    rc = cli.main(["train", "--scenario", "dt", "--steps", "1", "--set", name, "--out", "/tmp/never-written"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and name.split("=")[0] in err


def test_config_file_presets_and_algorithm_defaults(tmp_path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('actor_lr = 3e-4\nactor_hidden = [64, 64]\n[dims]\nK = 3\n')
    cfg = solver.make_config("paper", f, scenario="dt", steps=5)
    assert cfg.actor_lr == 3e-4 and cfg.actor_hidden == (64, 64) and dict(cfg.dims) == {"K": 3}
    assert cfg.critic_lr == 2e-6 and cfg.denoise_steps == 6 and cfg.steps == 5
    with pytest.raises(ValueError, match="preset"):
        solver.make_config("fast")
    # algorithm defaults sit beneath the preset, the file and the overrides
    assert solver.make_config("quick", algo="ppo").envs_per_step == 256
    assert solver.make_config("paper", algo="ppo").actor_lr == 2e-7
    assert solver.make_config("quick", algo="ppo", envs_per_step=64).envs_per_step == 64
    assert solver.make_config("quick", algo="sac").pruning == "none"


def test_pruning_kinds_keep_their_first_names() -> None:
    assert solver.make_config("quick", pruning="dt").pruning == "cubic_l1"
    assert solver.make_config("quick", pruning="agent").pruning == "fixed_l2"
    with pytest.raises(config.FieldError, match="pruning"):
        solver.make_config("quick", pruning="l3")


def test_pruning_none_from_cli_file_and_api(tmp_path) -> None:
    f = tmp_path / "c.json"
    f.write_text('{"pruning": "none"}')
    assert solver.make_config("quick", f).pruning == "none"
    assert solver.make_config("quick", pruning="none").pruning == "none"
    assert config.coerce({"pruning": "none", "target_entropy": "none"}) == config.Config(pruning="none")
    s = solver.run(tiny(pruning="none", steps=10), progress=False)
    assert s["parameters"]["compact"] == s["parameters"]["full"]
