"""Dynamic structured pruning of the actor as static-shape neuron masks.

Masks are one ``[width]`` vector per hidden layer of :class:`contractjax.networks.NoiseNet`
(layers ``hidden_0 … hidden_{L-1}``). Everything here takes traced sparsity values, so a sweep
over pruning rates does not recompile.

* DT variant (Wen et al. 2024 [DT], journal eq. 18; Zhu & Gupta 2017): target sparsity ``ω̂`` reached along the cubic schedule
  ``ω_z = ω̂ − ω̂ (1 − z/(NΔ))³``; importance ``|m_i θ_i|`` read as the L1 norm of neuron ``i``'s
  incoming weights (masked neurons have importance 0 and stay pruned). The paper's threshold
  ``Υ_z`` is the importance cut that prunes the fraction ``ω_z`` (a project decision, docs/models.md), applied per
  layer so that no layer is emptied.
* AGENT / EDMSAC variant (Wen et al. 2025 [AGENT]): importance = L2 norm of each neuron's weight row,
  a fixed pruning rate, recomputed every ``Δ`` steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array
Masks = tuple[Array, ...]


def cubic_sparsity(step: Array, target: Array | float, n_steps: Array | int, every: Array | int) -> Array:
    """``ω_z = ω̂ − ω̂ (1 − z/(NΔ))³`` for ``z <= NΔ``, then ``ω̂`` ([DT] eq. 18)."""
    frac = jnp.clip(jnp.asarray(step, jnp.float32) / (jnp.asarray(n_steps) * jnp.asarray(every)), 0.0, 1.0)
    return target - target * (1.0 - frac) ** 3


def importance(kernel: Array, mask: Array, norm: str = "l2") -> Array:
    """Per-output-neuron importance of a ``[in, out]`` kernel, zero for masked neurons."""
    w = jnp.abs(kernel) if norm == "l1" else kernel**2
    s = jnp.sum(w, axis=0)
    return mask * (s if norm == "l1" else jnp.sqrt(s))


def prune_fraction(score: Array, fraction: Array | float) -> Array:
    """Mask that drops the ``round(fraction · width)`` lowest scores (ties by index)."""
    width = score.shape[0]
    k = jnp.round(jnp.asarray(fraction) * width)
    rank = jnp.argsort(jnp.argsort(score, stable=True), stable=True)
    return (rank >= k).astype(score.dtype)


def update_masks(params: Any, masks: Masks, fraction: Array | float, norm: str = "l2") -> Masks:
    """New masks pruning ``fraction`` of every hidden layer's neurons by importance; a neuron
    once pruned has importance 0, so pruning is monotone (the DT schedule only grows)."""
    p = params["params"]
    return tuple(
        jnp.minimum(m, prune_fraction(importance(p[f"hidden_{i}"]["kernel"], m, norm), fraction))
        for i, m in enumerate(masks)
    )


def param_masks(params: Any, masks: Masks) -> Any:
    """Multipliers with the structure of ``params`` that zero every weight of a pruned neuron:
    its kernel column and bias, and its row in the next layer's kernel."""
    p = params["params"]
    n = len(masks)
    out = jax.tree.map(jnp.ones_like, p)
    for i, m in enumerate(masks):
        out[f"hidden_{i}"] = {"kernel": jnp.broadcast_to(m[None, :], p[f"hidden_{i}"]["kernel"].shape),
                              "bias": m}
        if i > 0:
            prev = masks[i - 1]
            out[f"hidden_{i}"]["kernel"] = out[f"hidden_{i}"]["kernel"] * prev[:, None]
    last = masks[n - 1]
    out["out"] = {"kernel": jnp.broadcast_to(last[:, None], p["out"]["kernel"].shape),
                  "bias": jnp.ones_like(p["out"]["bias"])}
    return {"params": out}


def apply(tree: Any, multipliers: Any) -> Any:
    return jax.tree.map(jnp.multiply, tree, multipliers)


def mask_opt_state(opt_state: Any, multipliers: Any) -> Any:
    """Zero the optimizer's parameter-shaped statistics (Adam's moments) of pruned weights, or
    Adam revives them."""
    target = jax.tree.structure(multipliers)

    def visit(node: Any) -> Any:
        if jax.tree.structure(node) == target:
            return apply(node, multipliers)
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            return type(node)(*(visit(c) for c in node))
        if isinstance(node, tuple | list):
            return type(node)(visit(c) for c in node)
        return node

    return visit(opt_state)


def compact(params: Any, masks: Masks) -> tuple[Any, tuple[int, ...]]:
    """Physically drop pruned neurons (host-side, concrete masks): returns smaller parameters and
    the new hidden widths; ``NoiseNet(hidden=widths)`` without masks gives the same outputs."""
    import numpy as np

    p = jax.tree.map(np.asarray, params["params"])
    keep = [np.asarray(m) > 0 for m in masks]
    out = {k: dict(v) for k, v in p.items()}
    for i, k in enumerate(keep):
        layer = out[f"hidden_{i}"]
        kernel = layer["kernel"][:, k]
        if i > 0:
            kernel = kernel[keep[i - 1], :]
        out[f"hidden_{i}"] = {"kernel": kernel, "bias": layer["bias"][k]}
    out["out"] = {"kernel": out["out"]["kernel"][keep[-1], :], "bias": out["out"]["bias"]}
    return {"params": out}, tuple(int(k.sum()) for k in keep)


def count(params: Any) -> int:
    """Number of parameters."""
    return int(sum(x.size for x in jax.tree.leaves(params)))


def count_active(params: Any, masks: Sequence[Array]) -> int:
    """Parameters that are not zeroed by the masks."""
    return int(sum(float(jnp.sum(m)) for m in jax.tree.leaves(param_masks(params, tuple(masks)))))
