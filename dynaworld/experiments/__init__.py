"""Experiments: sweeps over games × methods × seeds, and their reports."""

from dynaworld.experiments.experiment import Experiment
from dynaworld.experiments.report import report
from dynaworld.experiments.sweep import run_sweep

__all__ = ["Experiment", "report", "run_sweep"]
