"""A minimal third-party wmbench plugin (see plugin.py)."""
