#!/bin/bash
# The README's first minute, timed from a fresh clone: clone, make install, train, eval with a GIF,
# then TensorBoard (its viewer installed, started, and the run's scalars served over HTTP).
#   bash scripts/first_minute.sh [REPO] > docs/results/demo/first_minute.txt
set -e
REPO=${1:-$(git rev-parse --show-toplevel)}
D=$(mktemp -d)/newcomer
S=$(date +%s.%N); git clone -q "$REPO" "$D" && cd "$D"; T0=$(date +%s.%N)
make install > install.log 2>&1; T1=$(date +%s.%N)
.venv/bin/dynaworld train dqn_cartpole --run-dir runs/cp > train.log 2>&1; T2=$(date +%s.%N)
.venv/bin/dynaworld eval runs/cp --episodes 20 --gif runs/cp/agent.gif > eval.log 2>&1; T3=$(date +%s.%N)
.venv/bin/pip install -q tensorboard > tb.log 2>&1
.venv/bin/tensorboard --logdir runs --port 6123 >> tb.log 2>&1 & TB=$!
timeout 120 bash -c 'until curl -sf "http://localhost:6123/data/plugin/scalars/tags" | grep -q episode_return; do sleep 0.2; done' || { kill $TB; exit 1; }
T4=$(date +%s.%N); kill $TB
echo "commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ), $(nproc) cores"
python3 -c "s,t0,t1,t2,t3,t4=$S,$T0,$T1,$T2,$T3,$T4
print(f'clone {t0-s:.1f} s, make install {t1-t0:.1f} s, train {t2-t1:.1f} s, eval+gif {t3-t2:.1f} s, '
      f'tensorboard install+serve {t4-t3:.1f} s, total {t4-s:.1f} s')"
tail -n 2 train.log | head -n 1
tail -n 1 eval.log
uptime
