#!/bin/bash
# bash scripts/doom_remake.sh [RUN_DIR]   (default runs/doom-remake)
# Issue 38: remake the Doom solved setting's V and M (mix2k-m24k-p64) on one core, each stage
# resumable (rerun this script). Then compare the remade logs with the committed ones: identical
# vae_log.csv / mdn_log.csv rows mean the same V and M (deterministic seeds), so the committed C's
# read them as they were made.
set -e
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
CFG=docs/results/doom_dream/mix2k-m24k-p64/config.yaml
D=${1:-runs/doom-remake}
for s in collect train-v encode train-m; do
  OMP_NUM_THREADS=1 .venv/bin/dynaworld worldmodels $s $CFG torch_threads=1 data.workers=1 --run-dir $D
done
diff <(cut -d, -f1-3 $D/vae_log.csv) <(cut -d, -f1-3 docs/results/doom_dream/mix2k-m24k-p64/vae_log.csv) && echo "V: same log"
diff <(cut -d, -f1-3 $D/mdn_log.csv) <(cut -d, -f1-3 docs/results/doom_dream/mix2k-m24k-p64/mdn_log.csv) && echo "M: same log"
