"""Data layer: sources -> validation -> preprocessing -> splits (see docs/DESIGN.md).

Names are imported lazily so ``import ganaug.data.imageset`` stays light.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "imageset": ["ImageSet"],
        "sources": ["load", "LoadResult", "write_stylegan_dataset", "read_idx"],
        "builtin": ["load_builtin", "builtin_names"],
        "validate": ["inspect", "InspectReport", "ValidationReport", "Problem"],
        "preprocess": ["resize_imageset", "to_array"],
        "split": ["make_split", "restrict_train", "apply_split", "Split", "prepare", "load_prepared", "PreparedData"],
    },
)
