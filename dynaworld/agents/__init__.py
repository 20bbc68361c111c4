"""Agents pi/v: ``act(obs)`` for real steps and ``update(batch)`` for UPDATEAGENT."""

from dynaworld.agents.dqn import DQNAgent
from dynaworld.agents.networks import q_network

__all__ = ["DQNAgent", "q_network"]
