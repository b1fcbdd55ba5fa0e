"""Data layer: sources -> validation -> preprocessing -> splits -> prepared folder (see docs/DESIGN.md).

Names are imported lazily so ``import ganaug.data.imageset`` stays light.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "imageset": ["ImageSet"],
        "sources": [
            "load",
            "load_builtin",
            "inspect",
            "LoadResult",
            "write_stylegan_dataset",
            "read_idx",
            "walk",
        ],
        "builtin": ["builtin_names"],
        "validate": ["InspectReport", "ValidationReport", "Problem"],
        "preprocess": ["resize_imageset", "to_array"],
        "split": ["make_split", "restrict_train", "apply_split", "Split"],
        "prepared": ["prepare", "load_prepared", "PreparedData", "is_prepared"],
    },
)
