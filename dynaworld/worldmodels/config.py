"""The World Models pipeline's config (Ha & Schmidhuber 2018): data, V, M, C and CMA-ES.

Defaults are the paper's CarRacing settings; ``configs/worldmodels_*.yaml`` scale them down
(``small``) or keep them (``paper``). Every stage writes into one run directory and is skipped
when its output exists, so rerunning a pipeline resumes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from dynaworld.config import doc, non_negative, one_of, positive, unit_interval
from dynaworld.device import device_name
from dynaworld.errors import ConfigError

VARIANTS = ("full", "v_only", "v_hidden")


def start_choice(x: Any) -> str | None:
    """'previous', 'zero' or a C folder inside the run directory (relative, no '..')."""
    if x in ("previous", "zero"):
        return None
    parts = PurePosixPath(str(x)).parts
    if not parts or str(x).startswith(("/", "~")) or ".." in parts or "\\" in str(x):
        return "must be 'previous', 'zero' or a C folder inside the run directory (e.g. 'iter3/C_full')"
    if not parts[-1].startswith("C_"):
        return f"names {parts[-1]!r}, not a C folder (C_...)"
    return None


def rollouts_at(rollouts: int, schedule: list[list[int]], generation: int) -> int:
    """Rollouts per candidate at ``generation`` (1-based): ``rollouts`` until the first
    [G, R] of ``schedule`` with G <= generation, then the last such R."""
    return next((r for g, r in reversed(schedule) if g <= generation), rollouts)


def _schedule(x: list[list[int]]) -> str | None:
    if not all(len(p) == 2 and p[0] > 1 and p[1] > 0 for p in x):
        return "must be a list of [generation > 1, rollouts > 0] pairs, e.g. [[60, 8], [120, 16]]"
    starts = [p[0] for p in x]
    return None if starts == sorted(set(starts)) else "generations must increase"


@dataclass
class WMEnvConfig:
    """The real environment E, seen as 64x64x3 uint8 frames."""

    id: str = doc(
        "CarRacing-v3", "'CarRacing-v3' (Gymnasium, box2d) or 'VizdoomTakeCover-v1' (vizdoom)."
    )
    size: int = doc(64, "Frames are resized to size x size RGB.", positive)
    max_episode_steps: int | None = doc(
        None, "Episode cap (None: CarRacing's own 1,000; Doom: the paper's 2,100).", positive
    )
    backend: str = doc(
        "gymnasium",
        "CarRacing simulator for collection and CMA-ES rollouts: 'gymnasium' or 'envpool' (C++, "
        "~6x faster, same tracks/physics, frames within ~2.4 grey levels; "
        "benchmarks/carracing_backends.py). Final evaluation always uses Gymnasium.",
        one_of("gymnasium", "envpool"),
    )
    doom_skill: int | None = doc(
        None,
        "VizDoom's doom_skill, 1-5 (None: VizDoom 1.3's take_cover.cfg, which sets 4). The "
        "ppaquette DoomTakeCover-v0 of the paper set 5 with an older VizDoom; 'dynaworld "
        "worldmodels parity' measures what each setting does (docs/results/doom_dream.md).",
        lambda x: None if x is None or 1 <= x <= 5 else "must be 1-5",
    )


@dataclass
class DataConfig:
    """Random rollouts that V and M learn from (``dynaworld worldmodels collect``)."""

    rollouts: int = doc(10_000, "Random rollouts to record.", positive)
    max_steps: int = doc(1_000, "Steps per rollout at most.", positive)
    policy: str = doc(
        "random",
        "'random': uniform random actions, each held for 1..hold_max steps; 'reference' "
        "(CarRacing): the reference code's, a World Model with random weights (standard Cauchy "
        "x U(0, 0.01)) per episode, so the car drives off in a different way each episode.",
        one_of("random", "reference"),
    )
    hold_max: int = doc(10, "Random actions are held for 1..hold_max steps.", positive)
    hold_long: float = doc(
        0.0,
        "Probability that a random action is held 1..hold_long_max steps instead (a mixture of "
        "short holds, which dodge, and long ones, which reach the walls; 0: short holds only).",
        unit_interval,
    )
    hold_long_max: int = doc(100, "The longest of the long holds (see hold_long).", positive)
    min_steps: int = doc(
        0,
        "Rollouts of at most this many actions are dropped and played again with another seed "
        "(the reference drops Doom episodes of <= 100 frames).",
        non_negative,
    )
    workers: int = doc(
        2, "Collector processes (the data do not depend on it: it may change in a run).", positive
    )
    seed: int = doc(0, "Rollout i uses seed seed + i (its track / level and its actions).")


@dataclass
class VConfig:
    """V: the convolutional VAE that compresses a frame to z."""

    z_dim: int = doc(32, "Size of z (the paper: 32 for CarRacing, 64 for Doom).", positive)
    lr: float = doc(1e-4, "Adam learning rate.", positive)
    batch_size: int = doc(100, "Frames per update.", positive)
    epochs: float = doc(10, "Passes over the frames of the dataset (fractions allowed).", positive)
    kl_tolerance: float = doc(
        0.5, "Free bits: the KL term is max(KL, kl_tolerance * z_dim).", non_negative
    )
    buffer_rollouts: int = doc(
        32, "Rollouts held in memory at once while streaming frames (bounds RAM).", positive
    )


@dataclass
class MConfig:
    """M: the MDN-RNN that predicts P(z', r, d | a, z, h)."""

    hidden: int = doc(256, "LSTM units (the paper: 256 CarRacing, 512 Doom).", positive)
    gaussians: int = doc(5, "Mixture components per z dimension.", positive)
    seq_len: int = doc(999, "Training sequence length (steps).", positive)
    batch_size: int = doc(100, "Sequences per update.", positive)
    lr: float = doc(1e-3, "Adam learning rate.", positive)
    steps: int = doc(4_000, "Updates.", positive)
    grad_clip: float = doc(1.0, "Gradient norm clip.", positive)
    reward_head: bool = doc(False, "Also predict the reward (needed to train in the dream).")
    done_head: bool = doc(False, "Also predict termination (Doom's death; needed in the dream).")
    done_weight: float = doc(
        10.0, "Weight of the termination loss (the reference code: 10).", non_negative
    )


@dataclass
class CConfig:
    """C: the controller a = W_c [z h] + b_c (tanh), trained by CMA-ES."""

    variant: str = doc(
        "full",
        "'full': linear on [z, h] (Doom: [z, c, h]); 'v_only': linear on z; "
        "'v_hidden': z -> hidden tanh layer -> action (the paper's ablations).",
        one_of(*VARIANTS),
    )
    hidden: int = doc(40, "Hidden tanh units of the 'v_hidden' variant.", positive)


@dataclass
class ESConfig:
    """CMA-ES (pycma) over C's parameters."""

    popsize: int = doc(64, "Candidates per generation.", positive)
    rollouts: int = doc(16, "Rollouts per candidate; fitness is their mean return.", positive)
    rollouts_from: list[list[int]] = doc(
        [],
        "More (or fewer) rollouts later: [[G, R], ...] = from generation G on, R rollouts per "
        "candidate (e.g. [[60, 8], [120, 16]]: cheap noisy fitness early, less noise near the "
        "optimum). Entries for generations not yet made may be added when a CMA-ES resumes.",
        _schedule,
    )
    sigma0: float = doc(0.1, "Initial step size.", positive)
    generations: int = doc(2_000, "Generations to run.", positive)
    eval_every: int = doc(
        25, "Evaluate the current mean on eval_rollouts every N generations.", positive
    )
    eval_rollouts: int = doc(100, "Rollouts of that periodic evaluation.", positive)
    l2: float = doc(
        0.0, "Fitness penalty l2 * |params|^2 (the reference code uses 0.01).", non_negative
    )
    where: str = doc(
        "real",
        "'real': rollouts in the real env (CarRacing); 'dream': inside M (DreamEnv).",
        one_of("real", "dream"),
    )
    temperature: float = doc(
        1.0, "Dream temperature tau (mixture logits / tau, noise * sqrt(tau)).", positive
    )
    dream_done: str = doc(
        "threshold",
        "In the dream an episode ends when M's p(done) > 0.5 ('threshold') or with probability "
        "p(done) ('sample').",
        one_of("threshold", "sample"),
    )
    dream_models: int = doc(
        1,
        "In the dream at iteration k: a candidate's fitness is its lowest mean return over the "
        "dreams of the last N models M_(k-N+1)..M_k (fewer at k < N), so a trick only one M pays "
        "for does not count. 1: M_k alone (the paper). N > 1 trains into C_..._models<N>/, which "
        "starts from its own C_(k-1), else from C_(k-1) of one model (start.json names it).",
        positive,
    )
    start: str = doc(
        "previous",
        "Where C_k's CMA-ES starts at iteration k > 1: 'previous' = C_(k-1) (the iterative "
        "procedure, see dream_models and seed); 'zero' = zero weights, C trained from scratch "
        "in M_k's dream (the paper's temperature table at the final model), into "
        "C_..._fromzero/. Iteration 1 always starts from zero weights. Or a C folder of this run "
        "(e.g. 'iter3/C_full_dream_tau1'): C starts from its params.npy at any iteration, into "
        "C_..._from-<folder>/ (e.g. real-environment CMA-ES fine-tuning a dream-trained C).",
        start_choice,
    )
    max_steps: int | None = doc(
        None, "Cap of training rollouts (None: the env's own episode length).", positive
    )
    workers: int = doc(
        2,
        "Evaluation worker processes (or Ray tasks with --ray). With CarRacing on "
        "env.backend=envpool, CMA-ES's real rollouts need none: a generation's episodes step in "
        "lock-step in one process (envpool's threads), V, M and C batched over all of them.",
        positive,
    )
    diagonal: bool = doc(False, "Diagonal CMA-ES (cheaper for many parameters).")
    seed: int = doc(
        0,
        "CMA-ES repeat on the same V and M: seeds pycma and shifts the real training tracks "
        "(generation g, rollout j: track g * 10000 + seed * 1000 + j, moved above 10**9 from "
        "generation 50 on so no evaluation track is trained on) and the dreams; a "
        "non-zero seed trains into C_<variant>..._seed<seed>/, from where its seed-0 C starts.",
        non_negative,
    )

    def rollouts_at(self, generation: int) -> int:
        """Rollouts per candidate at ``generation`` (``rollouts``, then ``rollouts_from``)."""
        return rollouts_at(self.rollouts, self.rollouts_from, generation)


@dataclass
class IterateConfig:
    """K of Algorithm 1: the paper's iterative training (collect with C, retrain M, retrain C)."""

    iterations: int = doc(
        1,
        "K. 1: the paper's procedure (random rollouts, V, M, C once). K > 1: iteration k collects "
        "'rollouts' real rollouts with iteration k-1's C, fine-tunes M on all rollouts so far "
        "and continues CMA-ES from C_(k-1) for es.generations more generations (V is kept).",
        positive,
    )
    rollouts: int = doc(200, "Real rollouts of C per iteration after the first.", positive)
    epsilon: float = doc(
        0.1,
        "Exploration of those rollouts: each step, with this probability, a random action held "
        "as in the random data (data.hold_max, data.hold_long) replaces C's.",
        lambda x: None if 0.0 <= x <= 1.0 else "must be in [0, 1]",
    )
    mdn_steps: int | None = doc(
        None,
        "Updates of M's fine-tuning per iteration after the first (None: mdn.steps).",
        positive,
    )


@dataclass
class WorldModelsConfig:
    """One World Models run: collect -> V -> encode -> M -> C (CMA-ES) -> evaluate."""

    name: str = doc("worldmodels", "Run name.")
    seed: int = doc(0, "Seed of V, M and CMA-ES.")
    device: str = doc(
        "auto", "'auto' (cuda if available), 'cpu', 'cuda', 'cuda:1', 'mps'.", device_name
    )
    torch_threads: int | None = doc(
        None, "torch intra-op threads (None: torch's default).", positive
    )
    eval_episodes: int = doc(
        100, "Real episodes of the final evaluation (the paper: 100 tracks).", positive
    )
    data_dir: str | None = doc(
        None,
        "Use (or create) the rollouts here instead of RUN_DIR/data (share data across runs).",
    )
    env: WMEnvConfig = field(default_factory=WMEnvConfig, metadata={"help": "Environment."})
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "Random rollouts."})
    vae: VConfig = field(default_factory=VConfig, metadata={"help": "V."})
    mdn: MConfig = field(default_factory=MConfig, metadata={"help": "M."})
    controller: CConfig = field(default_factory=CConfig, metadata={"help": "C."})
    es: ESConfig = field(default_factory=ESConfig, metadata={"help": "CMA-ES."})
    iterate: IterateConfig = field(
        default_factory=IterateConfig, metadata={"help": "Iterations K (iterative training)."}
    )

    def validate(self) -> None:
        if self.data.policy == "reference" and self.env.id != "CarRacing-v3":
            raise ConfigError(
                f"data.policy='reference' is the reference's CarRacing data policy; "
                f"{self.env.id} takes data.policy='random'"
            )
        d = self.data
        if d.hold_long > 0 and d.hold_long_max <= d.hold_max:
            raise ConfigError(
                f"data.hold_long={d.hold_long} mixes in long holds, but data.hold_long_max="
                f"{d.hold_long_max} is not longer than data.hold_max={d.hold_max}: raise it"
            )
        if self.es.where == "dream" and not (self.mdn.reward_head or self.mdn.done_head):
            raise ConfigError(
                "es.where='dream' needs mdn.reward_head or mdn.done_head: "
                "the dream must say what is rewarded or when the episode ends"
            )
