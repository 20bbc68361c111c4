"""Claims: World Models evaluation seeds come in two blocks, 'validation' (for choosing) and 'test'
(final claims only), and no shipped config trains or collects data on a seed of either."""

import pytest

from dynaworld.config import load_config
from dynaworld.shipped import names
from dynaworld.worldmodels.config import WorldModelsConfig
from dynaworld.worldmodels.run import EVAL_BLOCKS, EVAL_SEED, eval_file, fitness_track

SPAN = 100_000  # evaluations use at most this many episodes of a block
BLOCKS = {**EVAL_BLOCKS, "cma_periodic": EVAL_SEED // 2}


def training_seeds(cfg: WorldModelsConfig, es_seeds: int = 10) -> set[int]:
    """Every env seed a run of ``cfg`` trains or collects on: data rollouts (with re-plays of
    short ones), iteration k's collection, and CMA-ES's real-env tracks for any es.seed < 10."""
    d, it, es = cfg.data, cfg.iterate, cfg.es
    seeds = set(range(d.seed, d.seed + 4 * d.rollouts))  # re-played short rollouts: + rollouts
    for k in range(2, it.iterations + 2):
        seeds |= set(range(d.seed + 10_000_000 * k, d.seed + 10_000_000 * k + it.rollouts))
    if es.where == "real":
        for s in range(es_seeds):
            for g in range(1, es.generations + 1):
                first = fitness_track(g, s * 1_000)
                seeds |= set(range(first, first + es.rollouts_at(g)))
    return seeds


@pytest.mark.parametrize("name", [n for n in names("config") if n.startswith("worldmodels")])
def test_no_training_or_data_seed_is_an_evaluation_seed(name):
    cfg = load_config(name, [], WorldModelsConfig)
    used = training_seeds(cfg)
    for block, base in BLOCKS.items():
        clash = sorted(s for s in used if base <= s < base + SPAN)
        assert not clash, f"{name}: {block} seeds {clash[:3]} are also training or data seeds"
    assert max(used) < 2**32  # VizDoom and MinAtar take 32-bit seeds


def test_the_blocks_are_far_apart_and_name_their_files():
    bases = sorted(BLOCKS.values())
    assert all(b - a >= SPAN for a, b in zip(bases, bases[1:], strict=False))
    assert eval_file("validation") == "eval.json" and eval_file("test") == "eval_test.json"
    assert fitness_track(49, 0) == 490_000 and fitness_track(50, 0) == 10**9
