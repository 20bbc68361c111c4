"""Experiments: sweeps over games × methods × seeds, and their reports."""

from dynaworld.studies.experiment import Experiment
from dynaworld.studies.report import report
from dynaworld.studies.sweep import run_sweep

__all__ = ["Experiment", "report", "run_sweep"]
