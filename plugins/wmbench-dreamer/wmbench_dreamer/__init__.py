"""DreamerV1, V2 and V3 for wmbench: one RSSM, one set of networks, three recipes.

Modules are named after the papers' components: :mod:`.networks` (CNN encoder/decoder, MLPs,
the GRU), :mod:`.distributions`, :mod:`.rssm`, :mod:`.heads`, :mod:`.world_model`,
:mod:`.actor_critic`, :mod:`.configs`, :mod:`.training` (collection and update schedule) and
:mod:`.agent` (the wmbench Agent subclasses).
"""

__version__ = "0.1.0"
