"""Pictures of what a decision attended to: the relevance of the chosen action's query drawn over the rendered
entities (rings scaled and coloured by weight), and the most relevant entities listed in a side panel.

Weights are :func:`perceiver_rl.explain`'s relevance of each entity slot to the decoder query that chose the action
(a verb's query or the pointer's): >= 0, summing to 1 over the present entities. Rings are sized and coloured relative
to the largest weight in the picture; the panel lists the absolute weights. With an ``actor`` type (Skirmish: one
action per ally) the picture shows the decision of the first present actor slot, marked by a white square, so a video
follows one unit until it dies. Games with a single decision show the query that chose it. With verb attention
(Foraging's preset) a chosen verb's logit also adds what that verb's own attention head read: the panel then lists
that head's most relevant entities under the query's.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from agents.factory import deterministic_action
from envs.render import BACKGROUND, GREY, WHITE, Canvas, weight_colors
from perceiver_rl import MaskablePerceiverPolicy, PerceiverPolicy, explain

PANEL_WIDTH = 224  # pixels beside the frame
TOP_K = 5  # entities listed in the panel: the query's
TOP_K_SHARED = 3  # entities listed per list when the chosen verb's own head is listed too (the panel is 256 high)
RING_RADIUS_PX = (5.0, 17.0)  # the ring of a weight near 0 and of the largest weight
MARK_HALF_PX = 11  # half-side of the squares marking the deciding actor and its target
FONT_SIZE = 13
LINE_PX = 18


@dataclass(frozen=True)
class Entry:
    """One entity slot (or token) and its relevance to the decision shown."""

    kind: str
    slot: int
    weight: float

    @property
    def name(self) -> str:
        """``kind[slot]``, as the panel writes it."""
        return f"{self.kind}[{self.slot}]"


@dataclass(frozen=True)
class AttentionView:
    """What one picture shows: the decision (its query's name, the action in words, the actor type and slot that
    decided it and the target type and slot it points at, or None) and the relevance (max_T,) of every slot of every
    entity type (or key) to its query, with the ``top`` slots by weight. ``verb_head`` names the chosen verb's own
    attention head (``unit[3].verb2``) and ``verb_top`` lists its top slots, when the policy has verb attention and
    the action is a verb (empty otherwise)."""

    query: str
    action: str
    actor: str | None
    actor_slot: int | None
    target: str | None
    target_slot: int | None
    weights: dict[str, np.ndarray]
    top: list[Entry]
    verb_head: str | None = None
    verb_top: list[Entry] = field(default_factory=list)


def attention_unsupported(model: Any, env: gym.Env) -> str | None:
    """Why :func:`attention_frame` cannot draw ``model`` on ``env``, or None when it can."""
    policy = getattr(model, "policy", model)
    if not isinstance(policy, (PerceiverPolicy, MaskablePerceiverPolicy)):
        return (f"the policy is {type(policy).__name__}; attention pictures need PerceiverPolicy or "
                "MaskablePerceiverPolicy (core perceiver or transformer)")
    base = env.unwrapped
    if not callable(getattr(base, "entity_pixels", None)):
        return f"{type(base).__name__} has no entity_pixels() placing its entities on the frame"
    if "rgb_array" not in base.metadata.get("render_modes", []):
        return f"{type(base).__name__} does not render rgb_array frames"
    if importlib.util.find_spec("PIL") is None:
        return "the panel's text needs pillow (pip install 'perceiver-rl[plots]')"
    return None


def attention_view(env: gym.Env, model: Any, obs: dict[str, np.ndarray], action: np.ndarray) -> AttentionView:
    """The decision behind ``action`` (``model``'s action on ``obs``, the current observation of ``env``) and the
    relevance of every entity slot to the query that chose it."""
    ex = explain(model, obs)
    layout = ex.layout
    actions = np.asarray(action).reshape(1, -1)  # (1, dims)
    actor_slot = None
    if layout.actor is not None:
        present = np.flatnonzero(obs[f"{layout.actor}_mask"])  # True = present
        actor_slot = int(present[0]) if present.size else None
    dim = actor_slot or 0
    query = int(ex.heads.chosen_queries(actions)[0, dim])
    weights = _per_kind(ex.relevance[0, query], ex.slices)
    choice = actions[0, dim]
    target_slot = int(choice) - layout.verbs[0] if layout.targets is not None and choice >= layout.verbs[0] else None
    verb_head, verb_top = None, []
    if ex.verbs is not None and not layout.box_dims and target_slot is None:  # a verb, read by its own head too
        row = ex.verb_row(dim, int(choice))
        verb_head = ex.verb_names[row]
        verb_top = _top(_per_kind(ex.verbs[0, row], ex.slices), TOP_K_SHARED)
    top = _top(weights, TOP_K_SHARED if verb_top else TOP_K)
    if layout.box_dims:
        text = f"{float(choice):+.2f}"
    elif target_slot is not None:
        text = f"target {layout.targets}[{target_slot}]"
    else:
        names = getattr(env.unwrapped, "verb_names", ())
        text = names[choice] if choice < len(names) else f"verb {choice}"
    target = layout.targets if target_slot is not None else None
    return AttentionView(ex.query_names[query], text, layout.actor, actor_slot, target, target_slot, weights, top,
                         verb_head, verb_top)


def _per_kind(relevance: np.ndarray, slices: dict[str, slice]) -> dict[str, np.ndarray]:
    """One row of relevance (N,) split into the slots (max_T,) of each entity type (or key)."""
    return {kind: relevance[s] for kind, s in slices.items()}


def _top(weights: dict[str, np.ndarray], k: int) -> list[Entry]:
    """The ``k`` slots of largest nonzero weight, largest first."""
    entries = [Entry(kind, int(slot), float(w[slot])) for kind, w in weights.items() for slot in np.flatnonzero(w)]
    return sorted(entries, key=lambda e: -e.weight)[:k]


def attention_frame(env: gym.Env, model: Any, obs: dict[str, np.ndarray], action: np.ndarray) -> np.ndarray:
    """``env``'s current frame with the relevance rings of ``model``'s decision ``action`` on ``obs``, and the side
    panel: (H, W + PANEL_WIDTH, 3) uint8. ``env`` renders ``rgb_array`` frames and has ``entity_pixels()``."""
    view = attention_view(env, model, obs, action)
    base = env.unwrapped
    pixels = base.entity_pixels()  # per type (max_T, 2) pixel (x, y)
    canvas = Canvas.over(_render(env))
    shown = [(kind, slot) for kind in pixels if kind in view.weights for slot in np.flatnonzero(view.weights[kind])]
    if shown:
        xy = np.array([pixels[kind][slot] for kind, slot in shown])  # (n, 2)
        scale = np.array([view.weights[kind][slot] for kind, slot in shown])
        scale = scale / scale.max()  # (n,) in (0, 1]
        order = np.argsort(scale)  # the strongest rings on top
        contrast = scale[order] ** 2  # (n,) differences of a few percent stay visible
        low, high = RING_RADIUS_PX
        canvas.rings_at(xy[order], low + (high - low) * contrast, weight_colors(contrast))
    marks = {role: pixels[kind][slot] for role, kind, slot in (("decider", view.actor, view.actor_slot),
                                                                ("target", view.target, view.target_slot))
             if slot is not None and kind in pixels}  # role -> (2,) pixel (x, y)
    canvas.boxes_at(np.array(list(marks.values())).reshape(-1, 2), MARK_HALF_PX, WHITE)
    if len(marks) == 2:
        canvas.line_at(marks["decider"], marks["target"], WHITE)
    title = f"{view.actor}[{view.actor_slot}] decides" if view.actor_slot is not None else "the decision"
    footer = [f"white square{'s' * (len(marks) > 1)}: {', '.join(marks)}"] if marks else []
    labels = [(rank, pixels[e.kind][e.slot]) for rank, e in enumerate(view.top) if e.kind in pixels]
    lines = [title, f"action: {view.action}", f"query: {view.query}"]
    lists = [("most relevant", view.top)]
    if view.verb_top:
        lists.append((f"own head of {view.action}", view.verb_top))
    return _compose(canvas.frame, lines, lists, [*footer, "rings grow with the weight"], labels)


def end_frame(env: gym.Env, lines: list[str]) -> np.ndarray:
    """``env``'s current frame with ``lines`` of text in the side panel (e.g. at the end of an episode)."""
    return _compose(_render(env), lines, [], [], [])


def snapshot(model: Any, env: gym.Env, seed: int) -> np.ndarray:
    """The attention picture of ``model``'s first deterministic decision in the episode of ``env`` seeded ``seed``."""
    obs, _ = env.reset(seed=seed)
    return attention_frame(env, model, obs, deterministic_action(model, env, obs))


def _render(env: gym.Env) -> np.ndarray:
    frame = env.render()
    if frame is None:
        raise ValueError("env: attention pictures need render_mode='rgb_array'")
    return frame


def _compose(frame: np.ndarray, lines: list[str], lists: list[tuple[str, list[Entry]]], footer: list[str],
             labels: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """``frame`` (H, W, 3) with rank numbers at the pixel points of ``labels`` (rank in the first list, (2,)), beside
    it a panel of ``lines``, each (heading, entries) of ``lists`` with the entries' weights, and a ``footer``:
    (H, W + PANEL_WIDTH, 3) uint8."""
    from PIL import Image, ImageDraw, ImageFont  # pillow: the plots extra (attention_unsupported checks it)

    height, width = frame.shape[:2]
    image = Image.new("RGB", (width + PANEL_WIDTH, height), BACKGROUND)
    image.paste(Image.fromarray(frame), (0, 0))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=FONT_SIZE)
    small = ImageFont.load_default(size=FONT_SIZE - 2)
    x0 = width + 10
    for i, line in enumerate(lines):
        draw.text((x0, 8 + i * LINE_PX), line, fill=WHITE if i == 0 else GREY, font=font)
    y = 16 + (len(lines) + 1) * LINE_PX
    for index, (heading, entries) in enumerate(lists):
        if not entries:
            continue
        scale = np.array([e.weight / entries[0].weight for e in entries])  # (k,) as the rings: relative, squared
        colors = [tuple(int(v) for v in c) for c in weight_colors(scale**2)]
        if index == 0:  # the rings' list: its ranks are written on the map too
            for rank, (x, y_px) in labels:
                draw.text((x + 9, y_px - 21), str(rank + 1), fill=colors[rank], font=small, stroke_width=2,
                          stroke_fill=BACKGROUND)
        draw.text((x0, y - LINE_PX), heading, fill=GREY, font=small)
        draw.text((x0 + 172, y - LINE_PX), "weight", fill=GREY, font=small)
        for rank, (entry, color) in enumerate(zip(entries, colors, strict=True)):
            row = y + rank * LINE_PX
            draw.text((x0, row), f"{rank + 1}", fill=color, font=font)
            draw.text((x0 + 16, row), entry.name, fill=WHITE, font=font)
            draw.rectangle((x0 + 104, row + 4, x0 + 104 + max(round(60 * scale[rank]), 1), row + 12), fill=color)
            draw.text((x0 + 172, row), f"{entry.weight:.2f}", fill=WHITE, font=font)
        y += (len(entries) + 1) * LINE_PX + 4
    for i, line in enumerate(footer):
        draw.text((x0, height - (len(footer) - i) * LINE_PX), line, fill=GREY, font=small)
    return np.asarray(image)
