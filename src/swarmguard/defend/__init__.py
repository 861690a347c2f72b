"""Adaptive defence: CALDERA profiles, a multi-agent network environment, RL training, policies."""
