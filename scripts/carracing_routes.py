"""Issue 41's cost figure: CarRacing routes to a score per core-hour and per real-environment step.

    python scripts/carracing_routes.py   # -> docs/results/worldmodels_carracing/routes.png

Route (a), the real-environment long run: its data, V and M cost ≈ 1.5 core-hours (the
CarRacing notebook, session 10) and 1,344,113 real frames (long_run/meta.json); then each of its
CMA-ES evaluations (100 envpool tracks 500,000 + i) and its test-block score. The dream routes
(b–d) are added here as their runs finish. The reference's evaluations are costed at our
measured rate for its generation."""

from __future__ import annotations

import json
from pathlib import Path

from dynaworld.studies.worldmodels.routes import real_es_route, reference_route, routes_figure

ROOT = Path(__file__).resolve().parents[1] / "docs" / "results" / "worldmodels_carracing"
DATA_HOURS = 1.5


def main() -> None:
    frames = json.loads((ROOT / "long_run" / "meta.json").read_text())["frames"]
    routes = {
        "(a) real-env CMA-ES, 64 × 16 (long run)": real_es_route(
            ROOT / "long_run" / "C_full", DATA_HOURS, frames
        ),
        "reference (hardmaru), costed at our rate": reference_route(DATA_HOURS, frames),
    }
    print(routes_figure(routes, ROOT / "routes.png"))


if __name__ == "__main__":
    main()
