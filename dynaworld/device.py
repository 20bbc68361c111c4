"""The one place a config's ``device`` is checked and turned into a ``torch.device``."""

from __future__ import annotations

import os
from typing import Any

import torch


def device_name(x: Any) -> str | None:
    """'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', and only one this torch can use."""
    if x in ("auto", "cpu"):
        return None
    kind, _, index = str(x).partition(":")
    if kind not in ("cuda", "mps") or (index and not index.isdigit()):
        return "must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
    if kind == "cuda" and not torch.cuda.is_available():
        return f"this torch ({torch.__version__}) has no CUDA device; use 'auto' or 'cpu'"
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        return f"this machine has {torch.cuda.device_count()} CUDA device(s)"
    if kind == "mps" and not torch.backends.mps.is_available():
        return "this torch has no MPS device; use 'auto' or 'cpu'"
    return None


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when this machine has it, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def cpu_threads(configured: int | None, network: str) -> int:
    """torch's intra-op threads for a training process: ``configured`` when set; else 1 for the
    small networks ('mlp', 'minatar': their batch-32 matmuls gain nothing from more threads, and
    lose much when another process shares the cores), else every core this process may use.
    (A sweep gives each run the cores divided by its worker processes, at most this.)"""
    if configured:
        return configured
    if network in ("mlp", "minatar"):
        return 1
    return usable_cores()


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
