"""`brain teach …`: a teach project carried between machines (the brain need not run).

    brain teach export dance dance.zip [--model]   samples and labels (and the trained head)
    brain teach import dance.zip dance2            a project from such a zip
    brain teach list                               projects and their classes

The store is the `learned` cortex's `store_dir` in the config (data/teach by default), with
its limits. An import is refused whole, with a sentence naming the entry, or done whole.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from actors.cortexes.learned.store import TeachError, TeachLimits, TeachStore
from brain.config import Config

__all__ = ["add_parser", "run"]


def add_parser(commands) -> None:
    teach = commands.add_parser("teach", help="export, import or list teach projects")
    teach.add_argument("--config", default="config/default.toml", help="where the learned cortex keeps projects")
    actions = teach.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="a zip of a project's samples (and, with --model, its trained head)")
    export.add_argument("project")
    export.add_argument("zip", type=Path)
    export.add_argument("--model", action="store_true", help="add the latest trained head (model.keras, meta.json)")
    load = actions.add_parser("import", help="a project from an exported zip, under a new name")
    load.add_argument("zip", type=Path)
    load.add_argument("project")
    actions.add_parser("list", help="the projects and their classes")


def _store(config: Config) -> TeachStore:
    for cortex in config.cortexes:
        if cortex.type == "learned":
            params = dict(cortex.params)
            limits = {f.name: params[f.name] for f in dataclasses.fields(TeachLimits) if f.name in params}
            return TeachStore(params.get("store_dir", "data/teach"), TeachLimits(**limits))
    return TeachStore("data/teach")


def run(args: argparse.Namespace, config: Config) -> int:
    store = _store(config)
    try:
        if args.action == "export":
            store.export(args.project, args.zip, model=args.model)
            what = "samples, labels and the trained head" if args.model else "samples and labels"
            print(f"exported {args.project} ({what}) to {args.zip}")
        elif args.action == "import":
            counts = store.import_project(args.zip, args.project)
            print(f"imported {args.project}: " + ", ".join(f"{k} ({v})" for k, v in counts.items()))
        else:
            for name in store.projects():
                print(f"{name}: " + ", ".join(f"{k} ({v})" for k, v in store.counts(name).items()))
    except (TeachError, OSError, ValueError) as exc:
        print(f"brain teach: {exc}", file=sys.stderr)
        return 2
    return 0
