#!/bin/bash
# bash scripts/long_jobs.sh start|save|pause|resume|status
# The two long jobs of issues 37 and 38, one core each, as the results pages describe them:
#   core A: the confirmatory planning-shape study (docs/results/planning_shape_200k.md), run from a
#           worktree of the commit that set its seeds (964b4e0);
#   core B: issue 38's queue, run from a worktree of WM_COMMIT (default: HEAD at start): the
#           CarRacing ablation seeds on the test block (worldmodels_carracing_notebook.md, in
#           wip/abl), then the Doom remake and its test-block queue
#           (docs/results/doom_dream_test_plan.md, in wip/doom-remake).
# A machine may be replaced between sessions with only the checkout kept (committed files and
# untracked, not ignored ones). So `save` copies the newest checkpoint of each unfinished study
# run into wip/ckpt/ (untracked: it travels with the checkout where it can), and `start` puts it
# back before resuming. Both jobs resume where their files end; finished work is skipped.
set -eu
REPO="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
ROOT="$(dirname "$REPO")"
STUDY=docs/results/planning_shape_200k
CONF="$ROOT/conf" WM="$ROOT/wmwt" LOGS="$ROOT/logs"
cd "$REPO"

worktree() {  # $1 folder, $2 commit
  [ -d "$1" ] || { git worktree prune; git worktree add --detach "$1" "$2" > /dev/null; }
  [ -e "$1/.venv" ] || ln -s "$REPO/.venv" "$1/.venv"
}
descendants() { echo "$1"; for c in $(pgrep -P "$1"); do descendants "$c"; done; }
signal() {  # $1 STOP|CONT
  for r in $(pgrep -f "long_jobs.sh (study|worldmodels)"); do
    for p in $(descendants "$r"); do kill -"$1" "$p" 2> /dev/null || true; done
  done
}

case "${1:-status}" in
study)  # core A (run by start)
  cd "$CONF"
  for s in $(seq 1 11); do
    PYTHONPATH="$CONF" OMP_NUM_THREADS=1 .venv/bin/python -m dynaworld.cli sweep \
      experiments/planning_shape_200k.yaml --out "$REPO/$STUDY" --suite minatar --seeds "$s" \
      --workers 1 --pack-seeds off torch_threads=1
  done ;;
worldmodels)  # core B (run by start)
  A="$REPO/wip/abl"
  [ -d "$A" ] || { cp -r "$REPO"/docs/results/worldmodels_carracing/long_run "$A" && rm -r "$A/C_full" &&
    cp -r "$REPO"/docs/results/worldmodels_carracing/ablation_seeds/C_full_seed{1,2,3} "$A/"; }
  cd "$WM"
  export PYTHONPATH="$WM" OMP_NUM_THREADS=1
  for s in 1 2 3; do
    [ -f "$A/C_full_seed$s/eval_test.json" ] || .venv/bin/dynaworld worldmodels evaluate "$A" \
      es.popsize=16 es.rollouts=4 es.generations=20 es.seed=$s es.workers=1 --seeds test
  done
  bash scripts/doom_remake.sh "$REPO/wip/doom-remake"
  bash scripts/doom_test_block.sh "$REPO/wip/doom-remake" ;;
start)
  [ -x .venv/bin/python ] || make install
  worktree "$CONF" 964b4e0
  worktree "$WM" "${WM_COMMIT:-HEAD}"
  mkdir -p "$LOGS" wip
  if [ -d wip/ckpt ]; then  # a saved checkpoint goes back where its run's records are but it is not
    (cd wip/ckpt && find . -type d -name checkpoints) | while read -r c; do
      [ -f "$(dirname "$c")/config.yaml" ] && [ ! -d "$c" ] && cp -r "wip/ckpt/$c" "$c"
      true
    done
  fi
  stamp=$(date +%Y%m%d-%H%M)
  setsid nohup bash "$0" study > "$LOGS/study-$stamp.log" 2>&1 &
  setsid nohup bash "$0" worldmodels > "$LOGS/worldmodels-$stamp.log" 2>&1 &
  echo "started; logs in $LOGS/*-$stamp.log" ;;
save)
  rm -rf wip/ckpt
  find "$STUDY" -type d -name checkpoints | while read -r c; do
    [ -f "$(dirname "$c")/summary.json" ] && continue
    newest=$(ls "$c" | sort | tail -1)
    [ -n "$newest" ] && mkdir -p "wip/ckpt/$c" && cp -r "$c/$newest" "wip/ckpt/$c/"
    true
  done
  du -sh wip/ckpt wip/doom-remake 2> /dev/null || true ;;
pause) signal STOP ;;
resume) signal CONT ;;
status)
  ps -eo pid,stat,etime,args | grep -E "dynaworld.cli sweep|dynaworld worldmodels" | grep -v grep \
    | cut -c1-160 || echo "no long job running" ;;
*) echo "usage: bash scripts/long_jobs.sh start|save|pause|resume|status" >&2; exit 2 ;;
esac
