"""The training config (``dynaworld train``, sweeps): E, the agent, replay, planning, the model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dynaworld.config.inert import model_warnings
from dynaworld.config.schema import (
    doc,
    non_negative,
    one_of,
    positive,
    positive_items,
    seed_range,
    unit_interval,
)
from dynaworld.device import device_name
from dynaworld.errors import ConfigError
from dynaworld.registry import MODELS, check_model_name

EVAL_BLOCKS = {"validation": 0, "test": 2_000_000_000}  # the first seed of each evaluation block


def eval_seed(block: str, seed: int, step: int) -> int:
    """The seed of episode 0 of the evaluation at real step ``step`` of run ``seed`` (episode i:
    + i). Blocks never overlap for seed < 1,000 and fewer than 10^9 steps."""
    return EVAL_BLOCKS[block] + seed * 1_000_003 + step


def parse_shape(shape: str) -> tuple[int, int]:
    """'33x3' → (33, 3): n rollouts × k steps."""
    m = re.fullmatch(r"\s*(\d+)\s*[x×*]\s*(\d+)\s*", str(shape))
    if not m or int(m[1]) < 1 or int(m[2]) < 1:
        raise ConfigError(
            f"planning.shape: expected 'NxK' with N, K >= 1 (e.g. 100x1, 10x10), got {shape!r}"
        )
    return int(m[1]), int(m[2])


# observation dimensions that stay visible (positions and angles; velocities are hidden)
VISIBLE = {
    "CartPole": (0, 2),  # x, θ  (hidden: ẋ, θ̇)
    "Acrobot": (0, 1, 2, 3),  # cos θ1, sin θ1, cos θ2, sin θ2  (hidden: θ̇1, θ̇2)
    "MountainCar": (0,),  # position  (hidden: velocity)
}


def visible_dims(env_id: str) -> tuple[int, ...]:
    game = env_id.split("/")[-1].rsplit("-v", 1)[0]
    if game not in VISIBLE:
        raise ConfigError(
            f"env.hide_velocities: supported for {', '.join(VISIBLE)}, not {env_id!r}"
        )
    return VISIBLE[game]


@dataclass
class EnvConfig:
    """Environment E: any Gymnasium id; Atari (``ALE/...``) and MinAtar get their standard wrappers."""

    id: str = doc(
        "CartPole-v1", "Gymnasium id, e.g. 'CartPole-v1', 'MinAtar/Breakout-v1', 'ALE/Pong-v5'."
    )
    sticky_actions: float | None = doc(
        None,
        "Probability of repeating the previous action (ALE / MinAtar). None keeps the game's default "
        "(ALE v5: 0.25, MinAtar: 0.1); the Atari-100k protocol uses 0.0.",
        unit_interval,
    )
    max_episode_steps: int | None = doc(
        None,
        "Truncate episodes after this many agent steps (Atari default 27,000 = 108k frames).",
        positive,
    )
    frame_skip: int = doc(
        4, "Atari: emulator frames per agent step (max-pooled over the last two).", positive
    )
    frame_stack: int = doc(4, "Atari: frames stacked into one observation.", positive)
    screen_size: int = doc(
        84, "Atari: observations are screen_size x screen_size grayscale.", positive
    )
    noop_max: int = doc(
        30, "Atari: up to this many no-op frames at the start of an episode.", non_negative
    )
    clip_rewards: bool = doc(
        True, "Atari: train on sign(reward); evaluation always reports raw score."
    )
    terminal_on_life_loss: bool = doc(
        True, "Atari: a lost life ends the episode *for learning only* (the game continues)."
    )
    full_action_space: bool = doc(
        False, "Atari: use all 18 actions instead of the game's minimal set."
    )
    hide_velocities: bool = doc(
        False,
        "CartPole / Acrobot / MountainCar: drop the velocities from the observation (a partially "
        "observed variant; the state must be inferred from history).",
    )
    imports: list[str] = doc(
        [],
        "Python modules imported before the env is made: the packages that register your own env "
        "ids (also written 'env.id=mypkg.envs:MyEnv-v0'). Installed packages only: a module that "
        "is a file inside the run directory being loaded is never imported.",
    )


@dataclass
class AgentConfig:
    """Agent pi/v: DQN (Mnih et al. 2015) with optional Double DQN and n-step returns."""

    network: str = doc(
        "auto",
        "'auto' picks by observation: 'nature' CNN (Atari), 'minatar' CNN, 'mlp' (vectors).",
        one_of("auto", "nature", "minatar", "mlp"),
    )
    hidden: list[int] = doc([120, 84], "MLP hidden layer sizes (network='mlp').", positive_items)
    lr: float = doc(1e-4, "Adam learning rate.", positive)
    adam_eps: float = doc(1.5e-4, "Adam epsilon.", positive)
    gamma: float = doc(0.99, "Discount factor.", unit_interval)
    batch_size: int = doc(32, "Transitions per agent update (UPDATEAGENT minibatch).", positive)
    target_update_period: int = doc(
        2000, "Copy the online net to the target net every N agent updates.", positive
    )
    double_dqn: bool = doc(
        False, "Select the bootstrap action with the online net (van Hasselt et al. 2016)."
    )
    n_step: int = doc(1, "n-step returns from replay.", positive)
    huber_delta: float = doc(
        1.0, "Huber loss threshold (the DQN paper's error clipping).", positive
    )
    max_grad_norm: float | None = doc(10.0, "Clip the gradient norm (None: no clipping).", positive)
    eps_start: float = doc(1.0, "Initial exploration epsilon.", unit_interval)
    eps_end: float = doc(0.01, "Final exploration epsilon.", unit_interval)
    eps_decay_steps: int = doc(50_000, "Env steps over which epsilon decays linearly.", positive)
    eval_eps: float = doc(0.001, "Epsilon during evaluation.", unit_interval)


@dataclass
class ReplayConfig:
    """The replay buffer: the agent's non-parametric model of the world (m and d in Algorithm 1)."""

    capacity: int = doc(
        100_000, "Transitions kept (each frame stored once, uint8 for images).", positive
    )
    learning_starts: int = doc(
        1_600, "Env steps collected before the first agent update.", non_negative
    )
    updates_per_step: float = doc(
        0.25,
        "Agent updates per env step from replay: 0.25 is DQN's 'every 4 steps'; 1, 2 ... for more.",
        non_negative,
    )


@dataclass
class PlanningConfig:
    """Planning with a model m (Dyna). A phase of n×k model transitions every ``period`` real steps."""

    model: str = doc(
        "none",
        "Model m for planning: 'none' (DQN), 'replay' (the planning budget spent on extra replay "
        "updates: 'DQN extra updates'), 'perfect' (the emulator), 'learned' (trained online), "
        "'pretrained' (trained offline, frozen; see model_path); on vector states (classic "
        "control): 'linear' (least squares), 'gp' (exact GP), 'sparse_gp' (inducing points), "
        "'ensemble' (probabilistic MLPs), 'lstm' (recurrent, for partially observed tasks); or "
        "your own, 'package.module:Factory' (dynaworld/registry.py says how).",
        check_model_name,
    )
    shape: str = doc(
        "100x1",
        "Planning shape NxK: N rollouts of K steps per phase: K batched calls of m (the loop's "
        "P planning steps), N*K model transitions.",
    )
    period: int = doc(
        4,
        "Real steps between planning phases. A run is K = total_steps iterations of M = 1 real "
        "step; every period-th iteration ends with a planning phase.",
        positive,
    )
    start_states: str = doc(
        "uniform",
        "Sampler d of rollout start states: 'uniform' over the replay buffer or 'recent'.",
        one_of("uniform", "recent"),
    )
    recent: int = doc(
        10_000, "With start_states='recent': draw from this many newest transitions.", positive
    )
    epsilon: float | None = doc(
        None,
        "Exploration of the rollout policy (None: the agent's current training epsilon).",
        unit_interval,
    )
    update_rule: str = doc(
        "imagined_buffer",
        "How model transitions update the agent: 'imagined_buffer' (stored, then minibatches of "
        "agent.batch_size drawn from them) or 'rollout_step' (each rollout step's n transitions are one minibatch).",
        one_of("imagined_buffer", "rollout_step"),
    )
    updates_per_transition: float = doc(
        0.03125,
        "imagined_buffer: agent updates per model transition (1/32: each transition used ~once).",
        positive,
    )
    imagined_capacity: int = doc(10_000, "imagined_buffer: model transitions kept.", positive)
    real_fraction: float = doc(
        0.0,
        "imagined_buffer: fraction of each planning minibatch drawn from real replay.",
        unit_interval,
    )
    model_path: str | None = doc(
        None, "pretrained: the model checkpoint written by 'dynaworld model-train'."
    )


@dataclass
class ModelConfig:
    """The learned model m: an action-conditional pixel model (planning.model = learned /
    pretrained) or a vector-state model (linear / gp / sparse_gp / ensemble / lstm)."""

    hidden: int = doc(
        512, "Width of the action-conditional transformation (Oh et al. 2015).", positive
    )
    lr: float = doc(
        1e-4, "Adam learning rate of the model (pixel, ensemble, lstm; GPs: gp_lr).", positive
    )
    batch_size: int = doc(
        32, "Real transitions per model update (lstm: windows of history steps).", positive
    )
    updates_per_step: float = doc(
        0.25,
        "Model updates per real step (UPDATEMODEL's own ratio; 'linear' and 'gp' refit every "
        "refit_every steps instead).",
        non_negative,
    )
    holdout_every: int = doc(
        10, "Hold out every N-th episode (by hash) from model training, for its error.", positive
    )
    error_every: int = doc(
        10_000,
        "Log the k-step prediction error every N real steps (0: only at the end).",
        non_negative,
    )
    error_k: int = doc(10, "Measure the prediction error at steps 1..k.", positive)
    refit_every: int = doc(
        500,
        "Vector models: refresh the input/target normalisation every N real steps; 'linear' and "
        "'gp' also refit on their data then.",
        positive,
    )
    ridge: float = doc(1e-3, "linear: ridge (prior precision) of the least-squares fit.", positive)
    gp_points: int = doc(
        500,
        "gp: the exact GP conditions on N training transitions (the terminal ones, up to N/2, "
        "and a uniform sample of the rest), redrawn at each refit.",
        positive,
    )
    gp_iters: int = doc(
        30, "gp: Adam steps on the kernel hyperparameters per refit (warm-started).", non_negative
    )
    gp_lr: float = doc(
        0.05, "gp / sparse_gp: Adam learning rate of the GP (hyper)parameters.", positive
    )
    inducing_points: int = doc(
        128, "sparse_gp: inducing points of the variational GP (trained on minibatches).", positive
    )
    ensemble_size: int = doc(5, "ensemble: members (each on its own minibatches).", positive)
    mlp_hidden: list[int] = doc(
        [200, 200], "ensemble: hidden layer sizes of each member.", positive_items
    )
    lstm_hidden: int = doc(64, "lstm: hidden state size.", positive)
    history: int = doc(
        8,
        "lstm: training window, and the real steps of an episode that warm up its hidden state "
        "before a rollout from a replay state.",
        positive,
    )


@dataclass
class TrainConfig:
    """One training run: Algorithm 1 with its components and counts."""

    name: str = doc("run", "Run name (used for the default run directory).")
    seed: int = doc(0, "Seed for every random number generator of the run.", seed_range)
    total_steps: int = doc(100_000, "Real environment steps (agent steps) to train for.", positive)
    device: str = doc(
        "auto", "'auto' (cuda if available), 'cpu', 'cuda', 'cuda:1', 'mps'.", device_name
    )
    torch_threads: int | None = doc(
        None,
        "torch intra-op threads. None: 1 for the small 'mlp' and 'minatar' networks, else every "
        "core the process may use; a sweep sets cores / workers.",
        positive,
    )
    eval_every: int = doc(10_000, "Evaluate every N env steps (0: only at the end).", non_negative)
    eval_episodes: int = doc(10, "Episodes per evaluation.", positive)
    final_eval_episodes: int = doc(30, "Episodes of the final evaluation (summary.json).", positive)
    eval_max_steps: int = doc(
        27_000,
        "Evaluation episodes are cut after this many steps, their return so far counted (Atari's "
        "108,000 frames at frame skip 4): a policy that never ends an episode, like MinAtar "
        "Seaquest's submarine waiting at the surface, would otherwise hang the run.",
        positive,
    )
    eval_block: str = doc(
        "validation",
        "Seeds of the evaluation episodes: 'validation' (episode i of the evaluation at step t: "
        "seed × 1,000,003 + t + i; the block settings are chosen on) or 'test' (2,000,000,000 + "
        "the same, needs seed < 1,000: for final claims only, never used to choose anything).",
        one_of("validation", "test"),
    )
    checkpoint_every: int = doc(
        25_000, "Write a checkpoint every N env steps (and always at the end).", positive
    )
    keep_checkpoints: int = doc(2, "Checkpoints kept on disk (oldest deleted first).", positive)
    log_every: int = doc(1_000, "Write training metrics every N env steps.", positive)
    progress: bool = doc(True, "Show a progress bar.")
    env: EnvConfig = field(default_factory=EnvConfig, metadata={"help": "Environment."})
    agent: AgentConfig = field(default_factory=AgentConfig, metadata={"help": "Agent."})
    replay: ReplayConfig = field(default_factory=ReplayConfig, metadata={"help": "Replay buffer."})
    planning: PlanningConfig = field(default_factory=PlanningConfig, metadata={"help": "Planning."})
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"help": "Learned model."})

    def validate(self) -> None:
        if self.agent.eps_end > self.agent.eps_start:
            raise ConfigError("agent.eps_end: must be <= agent.eps_start")
        spec = MODELS.get(self.planning.model)  # a user's model is checked when it is built
        if spec is not None and spec.plan != "none":
            parse_shape(self.planning.shape)
        if spec is not None and spec.pretrained and not self.planning.model_path:
            raise ConfigError("planning.model_path: required with planning.model='pretrained'")
        game = self.env.id.startswith("ALE/") or self.env.id.startswith("MinAtar/")
        if spec is not None and spec.simulator and not game:
            raise ConfigError(
                f"planning.model: {self.planning.model!r} needs an ALE or MinAtar game, not {self.env.id!r}"
            )
        if spec is not None and spec.observations == "vector" and game:
            raise ConfigError(
                f"planning.model: {self.planning.model!r} needs vector observations "
                f"(e.g. CartPole-v1), not {self.env.id!r}"
            )
        if self.env.hide_velocities:
            visible_dims(self.env.id)  # raises for an unsupported game
        if self.eval_block == "test" and self.seed >= 1_000:
            raise ConfigError("seed: must be < 1,000 with eval_block=test (its seeds must stay apart from the validation block's)")  # fmt: skip

    def warnings(self) -> list[str]:
        """Settings that are legal but probably not what the user wants (inert ones, which a new
        run refuses: ``dynaworld.config.inert``)."""
        out = []
        if self.replay.learning_starts >= self.total_steps and self.replay.updates_per_step > 0:
            out.append(
                f"replay.learning_starts={self.replay.learning_starts} >= total_steps={self.total_steps}: "
                "the agent will make no update"
            )
        return out + model_warnings(self)


# Settings a resumed run may change: none of them changes what the run computes. total_steps only
# extends the run; torch_threads may change float rounding (not the algorithm). Everything else
# is what the checkpoint was trained with and is refused on --resume.
RESUME_SAFE: dict[str, str] = {
    "total_steps": "extends the run (it must not go below the step the run reached)",
    "progress": "the progress bar",
    "log_every": "how often metrics are written",
    "checkpoint_every": "how often checkpoints are written",
    "keep_checkpoints": "how many checkpoints stay on disk",
    "final_eval_episodes": "episodes of the final evaluation (after training)",
    "eval_max_steps": "the evaluation episodes' step cap (evaluation only; runs made before it "
    "existed resume with it)",
    "torch_threads": "CPU threads (may change float rounding, not the algorithm)",
}
