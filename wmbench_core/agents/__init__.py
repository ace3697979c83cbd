"""Agents that ship with the core (the uniform-random baseline)."""
