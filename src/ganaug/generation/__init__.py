"""Synthesis: images per class from fixed seeds (:mod:`.sampling`), export with provenance
(:mod:`.export`), class balancing (:mod:`.balance`). ``ganaug.generate`` and ``ganaug.balance``
are :func:`.sampling.generate` and :func:`.balance.balance`."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "sampling": ["generate", "parse_seeds", "synthesize"],
        "result": ["GenerateResult", "MANIFEST_FIELDS"],
        "export": ["export", "read_manifest"],
        "balance": ["BalanceResult", "balance", "balance_plan"],
    },
)
