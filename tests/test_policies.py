"""PerceiverPolicy / MaskablePerceiverPolicy / PerceiverExtractor: decoding, SB3 integration, bad input."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from entity_tasks import TINY, MajorityTask, PerActorTask, PointerTask
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.torch_layers import CombinedExtractor
from stable_baselines3.common.vec_env import SubprocVecEnv, VecCheckNan, VecNormalize

from perceiver_rl import (
    CORES,
    MaskablePerceiverPolicy,
    PerceiverExtractor,
    PerceiverPolicy,
    entity_space,
    explain,
    policy_flops,
)
from perceiver_rl.actions import ActionLayout
from perceiver_rl.core import Encoding
from perceiver_rl.distributions import NEG_LOGIT
from perceiver_rl.queries import ActionQueries, VerbAttention, VerbReadout


class SquadEnv(gym.Env):
    """Units act on their own and point at enemies: MultiDiscrete([3 verbs + 5 enemies] * 4), with action masks."""

    def __init__(self, episode_length: int = 8) -> None:
        self.observation_space = entity_space({"unit": (4, 3), "enemy": (5, 2)}, global_dim=2, low=-1, high=1)
        self.action_space = spaces.MultiDiscrete([3 + 5] * 4)
        self.episode_length = episode_length
        self._t = 0

    def _obs(self):
        obs = self.observation_space.sample()
        obs["unit_mask"][:2] = 1
        obs["enemy_mask"][0] = 1
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(int(self.np_random.integers(2**31)))
        self._t = 0
        self._last = self._obs()
        return self._last, {}

    def step(self, action):
        self._t += 1
        reward = float(np.mean(np.asarray(action) == 1))
        self._last = self._obs()
        return self._last, reward, self._t >= self.episode_length, False, {}

    def action_masks(self) -> np.ndarray:
        masks = np.ones((4, 8), dtype=bool)
        masks[:, 3:] = self._last["enemy_mask"][None].astype(bool)
        masks[self._last["unit_mask"] == 0, 1:] = False
        return masks.ravel()


def make_squad() -> SquadEnv:
    return SquadEnv()


def squad_model(core, algo=PPO, policy=PerceiverPolicy, env=None, seed=0, policy_kwargs=None, **kw):
    env = env if env is not None else make_vec_env(make_squad, n_envs=2, seed=seed)
    return algo(policy, env, n_steps=16, batch_size=16, n_epochs=1, seed=seed, device="cpu",
                policy_kwargs=dict(core=core, actor="unit", targets="enemy", **{**TINY, **(policy_kwargs or {})}), **kw)


def obs_batch(env, n=4, seed=0):
    env.observation_space.seed(seed)
    obs = [env.observation_space.sample() for _ in range(n)]
    return {k: np.stack([o[k] for o in obs]) for k in obs[0]}


@pytest.mark.parametrize(("contextual", "verb_attention"), [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("core", CORES)
def test_per_actor_pointer_logits(core, contextual, verb_attention):
    model = squad_model(core, policy_kwargs=dict(contextual_targets=contextual, verb_attention=verb_attention))
    env = SquadEnv()
    obs = obs_batch(env)
    obs["unit_mask"][:] = [1, 0, 1, 0]
    obs["enemy_mask"][:] = [1, 1, 0, 0, 1]
    tensor, _ = model.policy.obs_to_tensor(obs)
    logits, values = model.policy.logits_and_values(tensor)
    assert logits.shape == (4, 32) and values.shape == (4, 1)
    per_unit = logits.view(4, 4, 8)
    # padded actor slots: a fixed no-op distribution
    assert torch.all(per_unit[:, [1, 3], 0] == 0) and torch.all(per_unit[:, [1, 3], 1:] == NEG_LOGIT)
    # absent targets: large negative, finite
    assert torch.all(per_unit[:, [0, 2]][..., 3 + 2] == NEG_LOGIT)
    assert torch.all(per_unit[:, [0, 2]][..., [3, 4, 7]] > NEG_LOGIT / 2)
    dist = model.policy.get_distribution(tensor)
    actions = dist.get_actions()
    assert torch.all(actions.view(4, 4)[:, [1, 3]] == 0)
    assert torch.isfinite(dist.entropy()).all()
    # padded slots contribute nothing to log-prob and entropy
    for i in [1, 3]:
        assert torch.all(dist.log_prob_per_dim(actions)[:, i] == 0)
        assert torch.all(dist.entropy_per_dim()[:, i] == 0)
    assert torch.all(dist.entropy_per_dim()[:, 0] > 0)


@pytest.mark.parametrize(("contextual", "verb_attention"), [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("core", CORES)
def test_pointer_logits_follow_target_permutation(core, contextual, verb_attention):
    model = squad_model(core, policy_kwargs=dict(contextual_targets=contextual, verb_attention=verb_attention))
    obs = obs_batch(SquadEnv())
    obs["enemy_mask"][:] = 1
    perm = np.array([3, 0, 4, 1, 2])
    permuted = dict(obs, enemy=obs["enemy"][:, perm], enemy_mask=obs["enemy_mask"][:, perm])
    a = model.policy.logits_and_values(model.policy.obs_to_tensor(obs)[0])[0].view(4, 4, 8)
    b = model.policy.logits_and_values(model.policy.obs_to_tensor(permuted)[0])[0].view(4, 4, 8)
    torch.testing.assert_close(a[..., 3:][..., perm], b[..., 3:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a[..., :3], b[..., :3], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("core", CORES)
def test_contextual_target_keys_carry_the_set(core):
    """With contextual_targets a target's key changes when another entity does; padded targets' content never."""
    obs = obs_batch(SquadEnv())
    obs["enemy_mask"][:] = [1, 1, 1, 0, 0]
    obs["enemy"][:, 3:] = np.nan  # padded rows may hold anything
    moved = {k: v.copy() for k, v in obs.items()}
    moved["enemy"][:, 2] += 0.5  # move another target

    def first_key(model, o):
        policy = model.policy
        tokens = policy.tokens(policy.obs_to_tensor(o)[0])
        encoding = policy.encoder.core.encode(tokens.tokens, tokens.mask)
        if not policy.heads.contextual_targets:
            return policy.heads.target_key(tokens.of("enemy")[0])[:, 0]
        _, _, decoded = policy.heads.decode(tokens, encoding, policy.encoder.core, "enemy")
        return policy.heads.target_key(decoded)[:, 0]

    contextual, plain = (squad_model(core, policy_kwargs=dict(contextual_targets=c)) for c in (True, False))
    assert not torch.allclose(first_key(contextual, obs), first_key(contextual, moved))
    torch.testing.assert_close(first_key(plain, obs), first_key(plain, moved))
    logits, _ = contextual.policy.logits_and_values(contextual.policy.obs_to_tensor(obs)[0])
    assert torch.isfinite(logits).all()
    contextual.learn(32)  # NaN in padded rows reaches no gradient
    assert all(torch.isfinite(p).all() for p in contextual.policy.parameters())
    assert not hasattr(plain.policy.heads, "entity_query")
    with pytest.raises(ValueError, match=r"contextual_targets: expected True or False, got 'yes'"):
        squad_model(core, policy_kwargs=dict(contextual_targets="yes"))


@pytest.mark.parametrize("core", CORES)
def test_verb_attention_reads_the_set_per_verb(core):
    """With verb_attention each verb's logit adds its own attention over the encoding: the verbs of one decision
    respond to the set differently; padded entities' content never reaches them, and the term starts near zero."""
    obs = obs_batch(SquadEnv())
    obs["unit_mask"][:] = [1, 1, 0, 0]
    obs["enemy_mask"][:] = [1, 1, 1, 0, 0]
    obs["enemy"][:, 3:] = np.nan  # padded rows may hold anything
    model = squad_model(core, policy_kwargs=dict(verb_attention=True))
    policy = model.policy

    def verb_terms(o):
        tokens = policy.tokens(policy.obs_to_tensor(o)[0])
        encoding = policy.encoder.core.encode(tokens.tokens, tokens.mask)
        decided, _, _ = policy.heads.decode(tokens, encoding, policy.encoder.core)
        return policy.heads.verb_attention(decided, encoding)  # (B, units, verbs)

    terms = verb_terms(obs)
    assert terms.shape == (4, 4, 3) and torch.isfinite(terms).all()
    assert terms.abs().max() < 0.1  # readout-sized at initialisation: the policy starts near uniform
    with torch.no_grad():  # give the verbs' values weight, so the term's response to the set shows
        policy.heads.verb_attention.to_kv.weight[policy.heads.verb_attention.dim:].normal_()
    moved = {k: v.copy() for k, v in obs.items()}
    moved["enemy"][:, 1] += 0.5
    change = verb_terms(moved) - verb_terms(obs)  # (B, units, verbs)
    assert change.abs().max() > 1e-4
    assert not torch.allclose(change[..., 0], change[..., 1], atol=1e-6)  # each verb its own response
    logits, _ = policy.logits_and_values(policy.obs_to_tensor(obs)[0])
    assert torch.isfinite(logits).all()
    model.learn(32)  # NaN in padded rows reaches no gradient
    assert all(torch.isfinite(p).all() for p in policy.parameters())
    plain = squad_model(core).policy
    assert plain.heads.verb_attention is None
    with pytest.raises(ValueError, match=r"verb_attention: expected True or False, got 1"):
        squad_model(core, policy_kwargs=dict(verb_attention=1))


@pytest.mark.parametrize("shared", [True, False])
def test_verb_attention_is_one_softmax_head_per_verb(shared):
    """Each verb's term is softmax((W_q h + e_verb) . k / sqrt(D)) over present tokens, weighting its own values;
    a sample with no token present gets 0."""
    torch.manual_seed(0)
    verbs, dim = (3, 3) if shared else (2, 3), 8
    attention = VerbAttention(verbs, dim, shared=shared)
    decided, tokens = torch.randn(3, 2, dim), torch.randn(3, 5, dim)
    mask = torch.tensor([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    tokens[~mask] = float("nan")  # padded content never matters
    out = attention(decided, Encoding(tokens, mask))
    assert out.shape == ((3, 2, 3) if shared else (3, 5))
    assert torch.all(out[2] == 0)
    embeddings = attention.verb_embedding()
    for b in range(2):
        present = tokens[b, mask[b]]  # (M, D)
        k, v = attention.to_kv(attention.norm(present)).split([dim, attention.num], dim=-1)
        rows = [(r, j) for r in range(2) for j in range(verbs[r])]
        for i, (r, j) in enumerate(rows):
            verb = j if shared else i
            weights = ((attention.query(decided[b, r]) + embeddings[verb]) @ k.T / dim**0.5).softmax(-1)
            expected = weights @ v[:, verb]
            got = out[b, r, j] if shared else out[b, i]
            torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("core", CORES)
def test_verb_attention_without_an_actor(core, tmp_path):
    """Global choices (a Discrete action, no actor): one attention head per (dimension, verb); save and load keep
    the option and the same logits."""
    env = make_vec_env(lambda: MajorityTask(), n_envs=2, seed=0)
    model = PPO(PerceiverPolicy, env, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu",
                policy_kwargs=dict(core=core, verb_attention=True, **TINY))
    heads = model.policy.heads
    num_verbs = sum(heads.layout.verbs)
    assert heads.verb_attention.verb_embedding().shape[0] == num_verbs
    obs = model.policy.obs_to_tensor(obs_batch(env.envs[0].unwrapped))[0]
    logits, _ = model.policy.logits_and_values(obs)
    assert logits.shape == (4, num_verbs) and torch.isfinite(logits).all()
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", device="cpu")
    assert loaded.policy.heads.verb_attention is not None
    torch.testing.assert_close(loaded.policy.logits_and_values(obs)[0], logits)


def test_discrete_learned_queries_and_pure_pointer():
    env = MajorityTask()
    model = PPO(PerceiverPolicy, env, n_steps=8, batch_size=8, policy_kwargs=TINY)
    assert model.policy.heads.learned_queries().shape == (1, 16)  # one learned query for the one decision
    assert model.policy.heads.verb_readout.weight.shape == (2, 16)  # read to its 2 verbs by a vector each
    pointer = PPO(PerceiverPolicy, PointerTask(max_items=32), n_steps=8, batch_size=8,
                  policy_kwargs=dict(targets="item", **TINY))
    assert pointer.policy.heads.verb_readout.weight.shape == (0, 16)  # a pure pointer: no verbs
    action, _ = pointer.predict(pointer.env.reset())  # a VecEnv batch of one
    assert action.shape == (1,) and 0 <= int(action[0]) < 32


def test_each_verb_has_its_own_readout():
    """One decoded vector per decision still gives different verb logits, and what a state changes in that vector
    moves the verbs' log-probabilities apart. A readout shared by the verbs would give equal logits and a uniform
    policy in every state (the Majority seed that never left it, docs/results/before_issue27/README.md)."""
    readout = VerbReadout((3, 2), 16)  # two decisions: 3 verbs, then 2, each verb with its own vector
    assert readout.weight.shape == (5, 16) and readout.bias.shape == (5,)
    decided = torch.randn(5, 2, 16)  # (B, decisions, D)
    logits = readout(decided)  # (B, 3 + 2)
    assert logits.shape == (5, 5)
    torch.testing.assert_close(logits[:, 3:], decided[:, 1] @ readout.weight[3:].T + readout.bias[3:])
    log_probs = torch.log_softmax(logits[:, :3], dim=1)
    assert log_probs.std(dim=0).min() > 1e-4  # the verbs' log-probabilities vary from state to state
    shared = VerbReadout((3, 3, 3), 16, shared=True)  # actors: every actor's 3 verbs read by the same 3 vectors
    assert shared.weight.shape == (3, 16) and shared(torch.randn(5, 3, 16)).shape == (5, 3, 3)


@pytest.mark.parametrize("core", CORES)
def test_every_query_carries_the_global_features(core):
    """Two states alike but for their global features get different decoder queries (value, verbs, pointers), so the
    global features reach every decision without attention having to find their one token among N."""
    from stable_baselines3.common.preprocessing import preprocess_obs

    model = squad_model(core)
    obs = obs_batch(SquadEnv(), n=1)
    obs = {k: np.concatenate([v, v]) for k, v in obs.items()}
    obs["global"][1] += 0.5
    policy = model.policy
    with torch.no_grad():
        tokens = policy.encoder.tokenizer(preprocess_obs(policy.obs_to_tensor(obs)[0], policy.observation_space))
        queries, _ = policy.heads.queries(tokens)  # (B, Q, D)
    differs = (queries[0] - queries[1]).abs().amax(-1)  # (Q,)
    assert bool((differs > 1e-3).all())


def test_multidiscrete_global_choices_of_different_sizes():
    class Env(MajorityTask):
        def __init__(self):
            super().__init__()
            self.action_space = spaces.MultiDiscrete([2, 5, 3])

        def _score(self, action):
            return 0.0, False

    model = PPO(PerceiverPolicy, Env(), n_steps=8, batch_size=8, policy_kwargs=TINY)
    obs = obs_batch(Env())
    logits, _ = model.policy.logits_and_values(model.policy.obs_to_tensor(obs)[0])
    assert logits.shape == (4, 10)
    model.learn(16)


@pytest.mark.parametrize("core", CORES)
def test_save_load_round_trip(core, tmp_path):
    model = squad_model(core)
    model.learn(32)
    obs = obs_batch(SquadEnv(), n=6)
    before, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "agent")
    loaded = PPO.load(tmp_path / "agent", device="cpu")
    after, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(before, after)
    assert loaded.policy.core_config == model.policy.core_config
    single, _ = loaded.predict({k: v[0] for k, v in obs.items()}, deterministic=True)
    np.testing.assert_array_equal(single, after[0])


@pytest.mark.parametrize("device", ["cpu", "auto", "cuda"])
def test_devices(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model = PPO(PerceiverPolicy, make_vec_env(make_squad, n_envs=2), n_steps=16, batch_size=16, n_epochs=1,
                device=device, policy_kwargs=dict(actor="unit", targets="enemy", **TINY))
    expected = "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"
    assert model.policy.device.type == expected
    model.learn(32)
    model.predict(obs_batch(SquadEnv()))


def test_vecnormalize_leaves_masks_alone():
    env = VecNormalize(make_vec_env(make_squad, n_envs=2), norm_obs_keys=["unit", "enemy", "global"])
    model = squad_model("perceiver", env=env)
    model.learn(32)
    obs = env.normalize_obs(obs_batch(SquadEnv()))
    assert set(np.unique(obs["unit_mask"])) <= {0, 1}


def test_subproc_vec_env_and_vec_check_nan():
    env = VecCheckNan(make_vec_env(make_squad, n_envs=2, vec_env_cls=SubprocVecEnv), raise_exception=True)
    try:
        squad_model("perceiver", env=env).learn(64)
    finally:
        env.close()


@pytest.mark.parametrize("core", CORES)
def test_same_seed_same_actions_and_losses(core):
    runs = []
    for _ in range(2):
        model = squad_model(core, seed=3)
        model.learn(48)
        runs.append((model.predict(obs_batch(SquadEnv()))[0], model.logger.name_to_value["train/loss"]))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


@pytest.mark.parametrize("core", CORES)
def test_maskable_ppo_respects_masks(core):
    model = squad_model(core, algo=MaskablePPO, policy=MaskablePerceiverPolicy)
    model.learn(32)
    env = SquadEnv()
    obs, _ = env.reset(seed=1)
    masks = env.action_masks()
    for _ in range(20):
        action, _ = model.predict(obs, action_masks=masks)
        assert masks.reshape(4, 8)[np.arange(4), action].all()


def test_a2c():
    model = A2C(PerceiverPolicy, make_vec_env(make_squad, n_envs=2), n_steps=4,
                policy_kwargs=dict(actor="unit", targets="enemy", **TINY))
    model.learn(16)
    assert model.num_timesteps == 16


@pytest.mark.parametrize("core", CORES)
def test_extractor_with_stock_policies(core):
    kwargs = dict(features_extractor_class=PerceiverExtractor,
                  features_extractor_kwargs=dict(core=core, features_dim=24, **TINY))
    ppo = PPO("MultiInputPolicy", make_vec_env(make_squad, n_envs=2), n_steps=16, batch_size=16, n_epochs=1,
              policy_kwargs=kwargs)
    ppo.learn(32)
    assert ppo.policy.features_extractor.features_dim == 24
    dqn = DQN("MultiInputPolicy", MajorityTask(), learning_starts=8, buffer_size=64, train_freq=4,
              policy_kwargs=kwargs)
    dqn.learn(32)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(actor="soldier"), r"actor='soldier' is not an entity type .* available: \['enemy', 'unit'\]"),
        (dict(targets="tree"), r"targets='tree' is not an entity type .* available: \['enemy', 'unit'\]"),
        (dict(actor="enemy"), r"actor='enemy' expects MultiDiscrete\(\[A\] \* 5\)"),
        (dict(targets="unit", actor="unit", core="lstm"), r"core: expected one of \['perceiver', 'transformer'\]"),
    ],
)
def test_bad_policy_kwargs(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        PPO(PerceiverPolicy, SquadEnv(), policy_kwargs={**TINY, **kwargs})


def test_bad_spaces():
    class NoMask(MajorityTask):
        def __init__(self):
            super().__init__()
            # a mask of 4 slots for 5 rows (without a mask key the 5 rows would be a set of present entities)
            self.observation_space = spaces.Dict({"dot": spaces.Box(-1, 1, (5, 3)), "dot_mask": spaces.MultiBinary(4)})

    with pytest.raises(ValueError, match=r"observation_space\['dot_mask'\]: expected MultiBinary\(5\), got"):
        PPO(PerceiverPolicy, NoMask(), policy_kwargs=TINY)

    class BinaryActions(MajorityTask):
        def __init__(self):
            super().__init__()
            self.action_space = spaces.MultiBinary(2)

    with pytest.raises(ValueError, match=r"action_space: expected Discrete, 1-D MultiDiscrete or Box, got MultiBinary"):
        PPO(PerceiverPolicy, BinaryActions(), policy_kwargs=TINY)

    class FewChoices(PointerTask):
        def __init__(self):
            super().__init__(max_items=6)
            self.action_space = spaces.Discrete(4)

    with pytest.raises(ValueError, match=r"targets='item' expects every dimension to have the same A >= 6"):
        PPO(PerceiverPolicy, FewChoices(), policy_kwargs=dict(targets="item", **TINY))


LEARNING = {"pointer": (PointerTask, dict(targets="item")), "per_actor": (PerActorTask, dict(actor="unit")),
            "majority": (MajorityTask, {})}


@pytest.mark.slow
@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("task", sorted(LEARNING))
def test_learns_entity_tasks(task, core):
    """Each decoding path learns its tiny task to > 90% success in 10k env steps, for both cores, at default sizes."""
    torch.set_num_threads(1)
    cls, kwargs = LEARNING[task]
    # One-step episodes: gamma 0, and no advantage normalisation (once a bandit is solved, normalising its ~0
    # advantages turns noise into full-size updates that can undo the solution).
    model = PPO(PerceiverPolicy, make_vec_env(cls, n_envs=8, seed=0), n_steps=64, batch_size=128, n_epochs=4,
                learning_rate=1e-3, gamma=0.0, normalize_advantage=False, seed=0, device="cpu",
                policy_kwargs=dict(core=core, **kwargs))
    model.learn(10_000)
    env = cls()
    successes = []
    for i in range(200):
        obs, _ = env.reset(seed=10_000 + i)
        action, _ = model.predict(obs, deterministic=True)
        successes.append(env.step(action)[4]["is_success"])
    assert np.mean(successes) > 0.9


def explain_batch():
    """Three squad states with padded slots; the third has no entity at all."""
    obs = obs_batch(SquadEnv(), n=3)
    obs["unit_mask"][:] = [1, 0, 1, 1]
    obs["enemy_mask"][:] = [1, 1, 0, 0, 1]
    obs["enemy_mask"][2] = 0
    obs["unit_mask"][2] = 0
    return obs


@pytest.mark.parametrize("core", CORES)
def test_explain_weights(core):
    model = squad_model(core)
    obs = explain_batch()
    ex = explain(model, obs)
    assert ex.relevance.shape == (3, 1 + 4, 9)  # the value query and one query per unit slot
    assert ex.query_names == ["value", "unit[0]", "unit[1]", "unit[2]", "unit[3]"]
    present = np.concatenate([obs["enemy_mask"], obs["unit_mask"]], axis=1).astype(bool)  # spec order: enemy, unit
    assert (ex.relevance >= 0).all()
    assert (ex.relevance.transpose(0, 2, 1)[~present] == 0).all()
    np.testing.assert_allclose(ex.relevance[:2].sum(-1), 1.0, rtol=1e-5)
    assert (ex.relevance[2] == 0).all()
    assert ex.entities("value")["enemy"].shape == (3, 5)
    # the chosen action's query: each unit's own, for a verb (unit 0) and a pointer (unit 1) alike
    chosen = ex.for_actions(np.array([[1, 5, 0, 0]] * 3))
    np.testing.assert_array_equal(chosen[:, 0], ex.relevance[:, 1])
    np.testing.assert_array_equal(chosen[:, 1], ex.relevance[:, ex.query_names.index("unit[1]")])
    # permuting the enemies permutes their weights
    perm = np.array([4, 0, 3, 1, 2])
    permuted = explain(model, dict(obs, enemy=obs["enemy"][:, perm], enemy_mask=obs["enemy_mask"][:, perm]))
    np.testing.assert_allclose(permuted.entities(3)["enemy"], ex.entities(3)["enemy"][:, perm], atol=1e-6)


def test_explain_one_observation_and_its_action():
    """One observation in, its one action in (as ``model.predict`` returns it): the chosen queries' relevance."""
    model = squad_model("perceiver")
    obs = SquadEnv().observation_space.sample()
    action, _ = model.predict(obs, deterministic=True)  # (4,): one choice per unit slot
    ex = explain(model, obs)
    chosen = ex.for_actions(action)
    assert chosen.shape == (1, 4, 9)
    np.testing.assert_array_equal(chosen[0], ex.relevance[0, 1:])
    with pytest.raises(ValueError, match=r"actions: expected shape \(B, 4\), \(4,\) or \(B,\) for one dimension, got"):
        ex.for_actions(np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"actions: expected shape \(B, 4\), \(4,\) or \(B,\) for one dimension, got"):
        ex.for_actions(np.zeros(8, dtype=int))  # two observations' actions must come as (2, 4)
    with pytest.raises(ValueError, match="actions: expected the actions of 1 observation"):
        ex.for_actions(np.zeros((2, 4), dtype=int))


@pytest.mark.parametrize("core", CORES)
def test_explain_verb_attention(core):
    """With verb attention each verb choice also reads the set through its own head: explain gives its relevance."""
    model = squad_model(core, policy_kwargs=dict(verb_attention=True))
    obs = explain_batch()
    ex = explain(model, obs)
    assert ex.verbs.shape == (3, 4 * 3, 9)  # 3 verbs for each of 4 unit slots, over 9 entity slots
    assert ex.verb_names[:4] == ["unit[0].verb0", "unit[0].verb1", "unit[0].verb2", "unit[1].verb0"]
    assert ex.verb_names[ex.verb_row(1, 0)] == "unit[1].verb0" and ex.verb_row(3, 2) == 4 * 3 - 1
    with pytest.raises(ValueError, match="dim, verb"):
        ex.verb_row(0, 3)
    present = np.concatenate([obs["enemy_mask"], obs["unit_mask"]], axis=1).astype(bool)
    assert (ex.verbs >= 0).all() and (ex.verbs.transpose(0, 2, 1)[~present] == 0).all()
    np.testing.assert_allclose(ex.verbs[:2].sum(-1), 1.0, rtol=1e-5)
    assert (ex.verbs[2] == 0).all()
    assert not np.allclose(ex.verbs[0, 0], ex.verbs[0, 1])  # each verb's head attends its own way
    perm = np.array([4, 0, 3, 1, 2])
    permuted = explain(model, dict(obs, enemy=obs["enemy"][:, perm], enemy_mask=obs["enemy_mask"][:, perm]))
    np.testing.assert_allclose(permuted.verbs[:, :, :5], ex.verbs[:, :, perm], atol=1e-6)
    assert explain(squad_model(core), obs).verbs is None  # no verb attention: nothing to explain there


def test_explain_verb_attention_is_its_attention_with_no_self_attention_layer():
    """A Transformer core with no layer keeps each entity as itself: a verb's relevance is its head's attention."""
    model = squad_model("transformer", policy_kwargs=dict(verb_attention=True, num_layers=0))
    obs = obs_batch(SquadEnv(), n=2)
    policy = model.policy
    ex = explain(model, obs)
    with torch.no_grad():
        tokens = policy.tokens(policy.obs_to_tensor(obs)[0])
        encoding = policy.encoder.core.encode(tokens.tokens, tokens.mask)
        decided, _, _ = policy.heads.decode(tokens, encoding, policy.encoder.core)
        weights = policy.heads.verb_attention.attention_map(decided, encoding).flatten(1, 2)  # (B, 12, 10 tokens)
    weights = weights[..., :9] / weights[..., :9].sum(-1, keepdim=True)  # without the global token, renormalised
    np.testing.assert_allclose(ex.verbs, weights.numpy(), rtol=1e-5, atol=1e-7)


def test_explain_rejects_other_policies():
    model = PPO("MultiInputPolicy", SquadEnv(), n_steps=8, batch_size=8)
    with pytest.raises(ValueError, match="model: expected an SB3 model with PerceiverPolicy"):
        explain(model, SquadEnv().observation_space.sample())


def test_one_decoder_query_per_decision():
    """Each action dimension is decided by one query whatever its choice (verb or pointer): Q = 1 + dims."""
    layout = ActionLayout(choices=(5, 5), actor=None, targets="item", num_targets=3)  # 2 verbs + 3 items each
    heads = ActionQueries(layout, 16)
    names = heads.query_names()
    assert names == ["value", "dim0", "dim1"]
    index = heads.chosen_queries(np.array([[1, 4], [3, 0]]))
    assert [[names[i] for i in row] for row in index] == [["dim0", "dim1"], ["dim0", "dim1"]]
    # per actor: the value and one query per unit slot (Skirmish: 1 + 8 queries, not 1 + 8 * (9 verbs + 1 pointer))
    model = squad_model("perceiver")
    obs, _ = model.policy.obs_to_tensor(obs_batch(SquadEnv()))
    from stable_baselines3.common.preprocessing import preprocess_obs

    tokens = model.policy.encoder.tokenizer(preprocess_obs(obs, model.policy.observation_space))
    queries, query_mask = model.policy.heads.queries(tokens)
    assert queries.shape == (4, 1 + 4, 16) and query_mask.shape == (4, 1 + 4)


def test_masks_that_close_every_possible_choice_are_refused():
    """A padded unit's only possible choice is its no-op (0): a mask closing it leaves nothing to sample, and
    sb3-contrib would pick uniformly among impossible choices. Acting refuses it in one line."""
    model = squad_model("perceiver", algo=MaskablePPO, policy=MaskablePerceiverPolicy)
    obs = obs_batch(SquadEnv(), n=1)
    obs["unit_mask"][:] = [1, 1, 0, 0]
    masks = np.ones((1, 4 * 8), dtype=bool)
    model.predict(obs, action_masks=masks)  # choice 0 open for the padded slots: fine
    masks.reshape(4, 8)[2, 0] = False
    with pytest.raises(ValueError, match=r"action_masks: sample 0 leaves unit\[2\] no choice open .* needs choice 0"):
        model.predict(obs, action_masks=masks)


def test_a_pure_pointer_with_no_target_present_is_refused():
    model = PPO(PerceiverPolicy, PointerTask(max_items=8), n_steps=8, batch_size=8,
                policy_kwargs=dict(targets="item", **TINY))
    obs = PointerTask(max_items=8).observation_space.sample()
    obs["item_mask"][:] = 0
    with pytest.raises(ValueError, match="observation: a sample has no 'item' present, and with no verbs"):
        model.predict(obs)


def test_policy_flops_counts_one_env_step():
    """SB3's MLP: exactly its matrix products. The Perceiver's grow linearly with the entities, the Transformer's
    faster."""
    mlp = PPO("MultiInputPolicy", PointerTask(max_items=8), seed=0)
    width = 8 * 1 + 8  # the flattened item features and item mask
    # policy and value nets (64-64 each), the action head (8 choices) and the value head; a multiply-add counts 2
    assert policy_flops(mlp.policy) == 2 * (2 * (width * 64 + 64 * 64) + 64 * 8 + 64)
    flops = {
        (core, n): policy_flops(PPO(PerceiverPolicy, PointerTask(max_items=n), seed=0,
                                    policy_kwargs=dict(core=core, targets="item")).policy)
        for core in ("perceiver", "transformer") for n in (64, 128, 256)
    }
    p64, p128, p256 = (flops["perceiver", n] for n in (64, 128, 256))
    assert p256 - p128 == pytest.approx(2 * (p128 - p64), rel=0.01)  # linear in N
    assert flops["transformer", 256] / flops["transformer", 128] > flops["perceiver", 256] / flops["perceiver", 128]


@pytest.mark.parametrize(("argument", "value"), [
    ("net_arch", [64, 64]), ("activation_fn", torch.nn.ReLU), ("ortho_init", False),
    ("features_extractor_class", CombinedExtractor), ("share_features_extractor", False),
])
def test_sb3_arguments_of_modules_not_built_are_refused(argument, value):
    """SB3's MLP extractor, features extractor, action and value nets are not built: their arguments, if not SB3's
    defaults, are refused in one line rather than ignored."""
    with pytest.raises(ValueError, match=rf"{argument}: PerceiverPolicy builds no MLP extractor, .* got "):
        PPO(PerceiverPolicy, MajorityTask(), n_steps=8, batch_size=8, policy_kwargs={argument: value, **TINY})


def test_no_unused_features_extractor_and_save_load():
    """Nothing the policy does not use rides along in its parameters (and its saved zip); save/load round-trips."""
    model = PPO(PerceiverPolicy, MajorityTask(), n_steps=8, batch_size=8, policy_kwargs=TINY)
    assert not list(model.policy.features_extractor.parameters())
    owned = sum(p.numel() for m in (model.policy.encoder, model.policy.heads) for p in m.parameters())
    assert owned == sum(p.numel() for p in model.policy.parameters())


def test_a_global_key_without_entity_keys_is_an_ordinary_feature_vector():
    """``Dict(global=Box(3), x=Box(5))`` has no entity keys: its 'global' is a feature vector like 'x', not the
    entity global features that every decoder query carries (that broadcast crashed with Discrete(4) and silently
    added token i to query i with Discrete(2))."""

    class Env(gym.Env):
        observation_space = spaces.Dict({"global": spaces.Box(-1, 1, (3,)), "x": spaces.Box(-1, 1, (5,))})

        def __init__(self, n):
            self.action_space = spaces.Discrete(n)

        def reset(self, *, seed=None, options=None):
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, True, False, {}

    for n in (4, 2):
        model = PPO(PerceiverPolicy, Env(n), n_steps=8, batch_size=8, policy_kwargs=TINY)
        assert not model.policy.heads.global_context
        model.learn(8)
        assert 0 <= int(model.predict(Env(n).observation_space.sample())[0]) < n
