"""Which entities (or other tokens) each decision attended to: relevance of every token to every decoder query, and
to every verb's own attention head when the policy has verb attention."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from perceiver_rl.actions import ActionLayout
from perceiver_rl.entities import GLOBAL_KEY
from perceiver_rl.policies import _EntityActorCritic
from perceiver_rl.queries import DecisionHeads


@dataclass(frozen=True)
class Explanation:
    """Relevance (B, Q, N) of the N tokens to the Q decoder queries, for a batch of B observations.

    The tokens are the entity slots, then the tokens of every non-entity key (features, categories, image patches);
    ``slices`` names them. Each row is >= 0, sums to 1 over the present tokens (the entity ``global`` token's share
    is left out and the rest renormalised), is exactly 0 on padded slots, and is all 0 when no token is present.

    ``verbs`` (B, C, N), rows alike, is there when the policy has verb attention: a verb choice's logit then adds
    what its own attention head read from the encoding (:class:`~perceiver_rl.queries.VerbAttention`), and row ``c``
    is that head's relevance for the verb named ``verb_names[c]``, every decision's verbs in dimension order.
    """

    relevance: np.ndarray
    slices: dict[str, slice]
    heads: DecisionHeads
    verbs: np.ndarray | None = None

    @property
    def query_names(self) -> list[str]:
        """The name of each of the Q decoder queries (``value``, then one per decision)."""
        return self.heads.query_names()

    @property
    def layout(self) -> ActionLayout:
        """The action layout of the heads whose queries are explained."""
        return self.heads.layout

    @property
    def verb_names(self) -> list[str]:
        """The name of each row of ``verbs``: ``unit[3].verb2`` (verb 2 of actor slot 3) or ``dim0.verb1``."""
        decisions = self.query_names[1:]
        return [f"{name}.verb{v}" for name, count in zip(decisions, self.layout.verbs, strict=True)
                for v in range(count)]

    def verb_row(self, dim: int, verb: int) -> int:
        """The row of ``verbs`` (and of ``verb_names``) for verb ``verb`` of decision dimension ``dim``."""
        counts = self.layout.verbs
        if not 0 <= dim < len(counts) or not 0 <= verb < counts[dim]:
            raise ValueError(f"dim, verb: expected a dimension below {len(counts)} and one of its verbs, got "
                             f"({dim}, {verb})")
        return sum(counts[:dim]) + verb

    def entities(self, query: int | str) -> dict[str, np.ndarray]:
        """Per entity type (or key), the relevance (B, max_T) of each slot (token) to one query (an index or a name)."""
        index = self.query_names.index(query) if isinstance(query, str) else query
        return {name: self.relevance[:, index, s] for name, s in self.slices.items()}

    def for_actions(self, actions: np.ndarray) -> np.ndarray:
        """The relevance (B, dims, N) of the query that decided each dimension of ``actions``: (B, dims), or (dims,)
        for one observation (then B is 1)."""
        index = self.heads.chosen_queries(actions)  # (B, dims)
        if len(index) != len(self.relevance):
            raise ValueError(f"actions: expected the actions of {len(self.relevance)} observation(s), got "
                             f"{len(index)}")
        return np.take_along_axis(self.relevance, index[..., None], axis=1)


def explain(model: Any, obs: dict[str, np.ndarray] | np.ndarray) -> Explanation:
    """Explain ``model``'s decoder queries on ``obs`` (one observation or a batch), for either core.

    ``model`` is an SB3 algorithm (or policy) using :class:`~perceiver_rl.PerceiverPolicy` or
    :class:`~perceiver_rl.MaskablePerceiverPolicy`. Perceiver: decoder attention (queries -> latents) composed with
    the latent layers and the encoder attention (latents -> entities). Transformer: decoder attention composed
    through the self-attention layers (attention rollout). See :meth:`~perceiver_rl.EntityCore.relevance`.
    """
    policy = getattr(model, "policy", model)
    if not isinstance(policy, _EntityActorCritic):
        raise ValueError(
            f"model: expected an SB3 model with PerceiverPolicy or MaskablePerceiverPolicy, got {type(policy).__name__}"
        )
    obs_tensor, _ = policy.obs_to_tensor(obs)
    core, heads = policy.encoder.core, policy.heads
    verb_attention = getattr(heads, "verb_attention", None)
    verbs = None
    with torch.no_grad():
        tokens = policy.tokens(obs_tensor)
        queries, _ = heads.queries(tokens)
        encoding, encoded = core.encoding_relevance(tokens.tokens, tokens.mask)  # (B, M, N_tokens)
        relevance = core.decoder_relevance(encoding, encoded, queries)  # (B, Q, N_tokens)
        if verb_attention is not None:
            decided, _, _ = heads.decode(tokens, encoding, core)  # (B, R, D)
            verbs = verb_attention.attention_map(decided, encoding)  # (B, R, V, M) or (B, sum(verbs), M)
            verbs = verbs.reshape(len(verbs), -1, verbs.shape[-1]) @ encoded  # (B, C, N_tokens)
    entities = policy.encoder.spec.entities
    dropped = tokens.slices[GLOBAL_KEY] if entities is not None and entities.global_dim else slice(0, 0)
    width = dropped.stop - dropped.start
    slices = {  # the slices after the dropped token move down by its width
        name: slice(s.start - width * (s.start >= dropped.stop), s.stop - width * (s.start >= dropped.stop))
        for name, s in tokens.slices.items() if s != dropped
    }
    return Explanation(_without(relevance, dropped), slices, heads,
                       None if verbs is None else _without(verbs, dropped))


def _without(relevance: torch.Tensor, dropped: slice) -> np.ndarray:
    """``relevance`` (B, R, N) without the tokens in ``dropped``, each row renormalised (all-zero rows stay 0)."""
    keep = torch.cat([torch.arange(dropped.start), torch.arange(dropped.stop, relevance.shape[-1])])
    relevance = relevance[..., keep.to(relevance.device)]  # (B, R, N - dropped)
    total = relevance.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, relevance / total.clamp_min(1e-12), 0.0).cpu().numpy()
