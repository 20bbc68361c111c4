#!/bin/bash
# bash scripts/doom_test_block.sh RUN_DIR   (after scripts/doom_remake.sh RUN_DIR)
# Issue 38, in the order of docs/results/doom_dream_test_plan.md: the solved setting re-run at the
# remade V and M (three CMA-ES runs, each scored on the validation block), the random policy and
# each C on the test block, then the temperature table under the reference's death rule (two
# CMA-ES runs per τ), each C on the test block. Every step resumes; finished ones are skipped.
set -e
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
D=${1:?the remade run directory}
F=docs/results/doom_dream/mix2k-m24k-p64
W="OMP_NUM_THREADS=1 .venv/bin/dynaworld worldmodels"
score() {  # $1: es.temperature, $2: es.dream_done, $3: es.seed
  local c=$D/C_full_dream_tau$1; [ "$2" = sample ] && c=${c}_sampled; [ "$3" = 0 ] || c=${c}_seed$3
  [ -f "$c/eval_test.json" ] || eval $W evaluate $D --seeds test controller.variant=full \
      es.temperature=$1 es.dream_done=$2 es.seed=$3
}
eval $W experiment $F/solved_remade.yaml --run-dir $D
[ -f $D/random_eval_test.json ] || eval $W random $D --seeds test
for s in 0 1 2; do score 1.15 sample $s; done
for x in a b; do eval $W experiment $F/tau_threshold_$x.yaml --run-dir $D; done
for s in 0 1; do for t in 0.1 0.5 1 1.15 1.3; do score $t threshold $s; done; done
.venv/bin/dynaworld report $D
