"""Command-line interface: ``ganaug COMMAND``.

Each command lives in its own module in this package and registers itself on :data:`cli`
through the ``@cli.command`` decorator; modules are discovered at start-up, so adding a
command never means editing this file. Commands only parse, call the library and print.

Command modules import only light modules at their top (click, ganaug.constants, ganaug.config,
ganaug.errors); each command imports the library modules it calls inside its function, because
they load torch, numpy or PIL and ``ganaug --help`` must not wait for that (tests/test_cli.py).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import click

from ganaug import __version__
from ganaug.errors import UserError, os_error_message
from ganaug.workers import Terminated, handle_termination


class GanaugError(click.ClickException):
    """An error the user can act on: printed without a traceback, exit status 1."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="ganaug")
def cli() -> None:
    """GAN augmentation for small or imbalanced labelled image sets.

    Pipeline: inspect -> prepare (split) -> train -> generate / balance -> evaluate ->
    benchmark -> report. `ganaug run DATA` runs all of it in one run folder.
    """


def _discover() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_discover()


def _exit_interrupted(code: int) -> None:
    """Leave at once after Ctrl-C or SIGTERM, once the stack has unwound (worker pools stopped,
    files closed; run-folder locks are released by the kernel). A normal interpreter exit would
    join the process pool's manager thread, which can wait forever on a pipe to a worker that was
    just terminated (seen as a 60 s hang after Ctrl-C under load)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    handle_termination()  # SIGTERM unwinds like Ctrl-C: worker pools stopped, locks released, exit 143
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
        click.echo("Aborted.", err=True)
        _exit_interrupted(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except UserError as e:
        click.secho(f"Error: {e}", fg="red", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        _exit_interrupted(130)
    except Terminated:
        click.echo("Terminated.", err=True)
        _exit_interrupted(Terminated.exit_code)
    except OSError as e:  # disk full, permission denied...: one line naming the path, no traceback
        click.secho(f"Error: {os_error_message(e)}", fg="red", err=True)
        sys.exit(1)
