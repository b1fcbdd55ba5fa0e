"""Zip files: a zip of an image folder, or a StyleGAN dataset zip (with ``dataset.json``).

Members are listed here and read later, one by one, by the decoder; the zip is never extracted.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ganaug.data.sources.folder import tree_job
from ganaug.data.sources.jobs import FileJob, hidden
from ganaug.data.sources.stylegan import read_dataset_json, stylegan_job
from ganaug.errors import DataError


def zip_job(path: Path) -> FileJob:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path} is not a readable zip file ({e})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.filename.endswith("/")]
        member = {_zip_name(i): i.filename for i in infos}  # name as written -> name to read it by
        names = list(member)
        if "dataset.json" in names:
            meta = read_dataset_json(zf.read(member["dataset.json"]), f"{path}#dataset.json")
            return stylegan_job(
                meta, names, lambda m: (f"{path}#{m}", str(path), member.get(m, m)), "stylegan-zip"
            )
    names = [n for n in names if not any(hidden(part) for part in n.split("/"))]
    # A zip of a folder often has one top folder holding the class folders: strip it.
    tops = {n.split("/", 1)[0] for n in names}
    prefix = ""
    if len(tops) == 1 and all("/" in n for n in names) and any(n.count("/") >= 2 for n in names):
        prefix = next(iter(tops)) + "/"
    rels = [n[len(prefix) :] for n in names]
    return tree_job(
        rels, lambda rel: (f"{path}#{prefix + rel}", str(path), member[prefix + rel]), fmt="zip-image-folder"
    )


def _zip_name(info: zipfile.ZipInfo) -> str:
    """A member's name as written. Info-ZIP (the `zip` command) and other tools store UTF-8 names
    without the UTF-8 flag; zipfile then decodes them as cp437, which garbles non-ASCII class names."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:  # really cp437 (or another legacy code page): keep zipfile's reading
        return info.filename
