"""DICOM (``.dcm``) files, through the optional ``pydicom`` (``pip install 'ganaug[dicom]'``).

Gray images are mapped to 8 bit with their stored window (WindowCenter/Width) when they have
one, else min..max; MONOCHROME1 (0 is white) is inverted; colour files keep their RGB.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from ganaug.data.preprocess import rescale_to_uint8


def read_dicom(data: bytes, pixels: bool) -> Any | None:
    """The pydicom dataset of a file's bytes (header only unless ``pixels``); None without pydicom."""
    # pydicom is an optional dependency: imported when the first DICOM file is met, so that data
    # sets without DICOM neither need it nor pay for its import, and its absence is a per-file problem.
    try:
        import pydicom
    except ImportError:
        return None
    return pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=not pixels)


def dicom_size(ds) -> tuple[tuple[int, int], bool]:
    """((width, height), grayscale) from the header."""
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    return (int(ds.Columns), int(ds.Rows)), spp == 1


def dicom_image(ds) -> tuple[Image.Image, list[tuple[str, str]], list[str]]:
    """(8-bit PIL image, problems as (kind, reason), tags for the report notes)."""
    problems, tags = [], []
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[0]
        problems.append(("animated", f"{frames} frames (DICOM); first frame used"))
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if int(ds.get("SamplesPerPixel", 1) or 1) == 1:
        values = arr.astype(np.float64) * float(ds.get("RescaleSlope", 1) or 1) + float(
            ds.get("RescaleIntercept", 0) or 0
        )
        center, width = _dicom_number(ds.get("WindowCenter")), _dicom_number(ds.get("WindowWidth"))
        if center is not None and width is not None and width > 0:
            img8 = rescale_to_uint8(values, center - width / 2, center + width / 2)
            tags.append("dicom-window")
        else:
            img8 = rescale_to_uint8(values)
            tags.append("dicom-minmax")
        if photometric == "MONOCHROME1":  # 0 is white
            img8 = 255 - img8
        im = Image.fromarray(img8)
    else:
        rgb = arr if arr.dtype == np.uint8 else rescale_to_uint8(arr)
        im = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
        tags.append("dicom-rgb")
    return im, problems, tags


def _dicom_number(v) -> float | None:
    """A number from a DICOM value that may be a list of them (take the first)."""
    if v is None:
        return None
    try:
        if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
            v = v[0]
        return float(v)
    except (TypeError, ValueError, IndexError):
        return None
