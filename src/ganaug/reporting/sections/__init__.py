"""The report's sections, one module each, in page order: data, gan, quality, benchmark, run.

Each ``*_section(run, num, ...)`` reads the files one stage wrote and returns the dict the template
renders: ``status`` "ok", "missing" (with a ``note`` saying which stage has not run) or, set by the
caller when reading fails, "error". Static captions and explanations live in the template.
"""
