"""Which classes a report table lists when there are too many to list them all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MAX_TABLE_CLASSES = 40  # above this, tables list the rarest and the largest classes only
LARGEST_SHOWN = 10


def shown_classes(
    class_names: Sequence[str], train_counts: Mapping[str, int] | None, limit: int = MAX_TABLE_CLASSES
) -> list[str]:
    """All classes up to ``limit``; beyond it the ``limit - 10`` with the fewest training images (where
    augmentation matters) and the 10 with the most, in their original order. Without counts: the first
    ``limit``."""
    names = list(class_names)
    if len(names) <= limit:
        return names
    if not train_counts:
        return names[:limit]
    order = sorted(range(len(names)), key=lambda i: (train_counts.get(names[i], 0), i))
    keep = set(order[: limit - LARGEST_SHOWN]) | set(order[-LARGEST_SHOWN:])
    return [n for i, n in enumerate(names) if i in keep]
