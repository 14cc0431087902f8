"""Parameter count and forward FLOPs of a core at a given entity count, or of a whole policy per env step.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on a real forward pass (a multiply-add counts 2);
the CPU attention kernel, which torch does not count, is added with torch's own attention formula. Only matrix
products are counted: LayerNorm, softmax and GELU are left out, as is usual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from stable_baselines3.common.policies import BasePolicy
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from perceiver_rl.core import EntityCore
from perceiver_rl.entities import MASK_SUFFIX

_aten = torch.ops.aten


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


# Kernels torch's counter does not know; shapes are passed in, as for its own formulas.
_EXTRA_FORMULAS = {_aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}


@dataclass(frozen=True)
class CoreCost:
    """Trainable parameters and forward FLOPs per sample of a core for ``num_entities`` inputs and ``num_queries``."""

    params: int
    flops: int
    num_entities: int
    num_queries: int


def count_params(module: nn.Module) -> int:
    """The number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def core_cost(core: EntityCore, num_entities: int, num_queries: int = 1) -> CoreCost:
    """Measure the forward FLOPs of one sample with ``num_entities`` present entities and ``num_queries`` queries."""
    if num_entities < 1 or num_queries < 1:
        raise ValueError(f"num_entities, num_queries: expected >= 1, got {num_entities}, {num_queries}")
    param = next(core.parameters())
    inputs = torch.zeros(1, num_entities, core.input_dim, dtype=param.dtype, device=param.device)
    mask = torch.ones(1, num_entities, dtype=torch.bool, device=param.device)
    queries = torch.zeros(1, num_queries, core.query_dim, dtype=param.dtype, device=param.device)
    counter = FlopCounterMode(display=False, custom_mapping=_EXTRA_FORMULAS)
    with counter:  # (FlopCounterMode's module tracker needs autograd on)
        core(inputs, mask, queries)
    return CoreCost(count_params(core), counter.get_total_flops(), num_entities, num_queries)


def policy_flops(policy: BasePolicy) -> int:
    """Forward FLOPs of one env step of an SB3 policy (any: ours, or SB3's MLP): actions and value for one observation.

    The observation is sampled from the policy's observation space with every entity present (a pointer then always
    has a target); FLOPs depend only on the padded shapes.
    """
    sample = policy.observation_space.sample()
    if isinstance(sample, dict):
        sample = {k: np.ones_like(v) if k.endswith(MASK_SUFFIX) else v for k, v in sample.items()}
    obs, _ = policy.obs_to_tensor(sample)
    counter = FlopCounterMode(display=False, custom_mapping=_EXTRA_FORMULAS)
    with counter:  # (with autograd on, as in core_cost)
        policy(obs, deterministic=True)
    return counter.get_total_flops()
