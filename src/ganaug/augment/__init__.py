"""Augmentation: classic (``classic.py``: dataset multiplication and the classifier's batch
transform) and for the discriminator (``ada.py``, ``diffaugment.py``). Imported lazily."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "classic": ["mirror", "multiply", "ClassicAugment"],
        "ada": ["AugmentPipe", "AdaController"],
        "diffaugment": ["DiffAugment"],
    },
)
