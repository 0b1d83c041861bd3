#!/usr/bin/env python3
"""Render the settings every process gets from the pipeline config, per profile.

Nextflow cannot run here, so ``nextflow config`` is not available. This evaluates
``nextflow.config`` with Nextflow's own config parser (from the language server jar,
see nextflow_lint.py) and ConfigRenderer.groovy, applies the selected profiles and
command-line params, and resolves each process's directives as Nextflow does:
``process`` defaults, then the module's own (quoted) ``container``, then
``withLabel:`` selectors, then ``withName:`` selectors,
closures called with ``task`` (attempt, exit status) and ``workflow`` (container
engine). Tests use it to check which tasks get containers, GPU options and retries.

Input (a file or stdin): a JSON list of requests
``{"profiles": [...], "params": {...}, "attempt": 1, "exit_status": 0, "inputs":
{PROCESS: {name: value}}}`` (``inputs``: what ext closures read of a task's inputs,
over TASK_INPUTS);
output (stdout): a JSON list of ``{"profiles", "applied", "params", "engine",
"processes": {NAME: {directive: value}}}``.
Processes are read from ``modules/**/main.nf`` (name, labels and container).
Run it with the interpreter of ``.venv-nflint``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from nextflow_lint import REPO_ROOT, SETUP_HINT, find_jar

GROOVY = Path(__file__).with_name("ConfigRenderer.groovy")
DIRECTIVES = (
    "accelerator",
    "clusterOptions",
    "conda",
    "container",
    "containerOptions",
    "errorStrategy",
    "executor",
    "ext",
    "maxForks",
    "maxRetries",
    "queue",
)
PROCESS = re.compile(r"^process\s+(\w+)\s*\{", re.MULTILINE)
LABEL = re.compile(r"^\s*label\s+'([^']+)'", re.MULTILINE)
CONTAINER = re.compile(r"^\s*container\s+'([^']+)'", re.MULTILINE)
ENGINES = ("docker", "singularity", "apptainer", "podman", "charliecloud")


def find_processes(root: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Process name -> (labels, directives set in the module), for every module
    of the pipeline (one process per file)."""
    processes = {}
    for module in sorted(root.glob("modules/**/main.nf")):
        text = module.read_text()
        name = PROCESS.search(text)
        if name:
            container = CONTAINER.search(text)
            directives = {"container": container.group(1)} if container else {}
            processes[name.group(1)] = (LABEL.findall(text), directives)
    return processes


# The inputs a task is rendered with, for the ext closures that read them: an embedding
# task of a model from the cache (a model folder, [] here, drops the revision)
TASK_INPUTS: dict[str, dict[str, Any]] = {
    "EMBED_DNA": {"model": "dnabert_s", "model_dir": []},
    "EMBED_PROTEIN": {"embedder": "esm2_3b", "model_dir": []},
    "BENCHMARK_EMBEDDER": {"embedder": "esm2_3b", "model_dir": []},
    "MODEL_CACHE": {"embedders": ["dnabert_s", "esm2_3b"]},
}


def selector_matches(key: str, name: str, labels: list[str]) -> bool:
    """Whether a ``withName:``/``withLabel:`` key applies (regex, ``!`` negates)."""
    kind, _, pattern = key.partition(":")
    negate = pattern.startswith("!")
    pattern = pattern.removeprefix("!")
    candidates = [name] if kind == "withName" else labels
    found = any(re.fullmatch(pattern, candidate) for candidate in candidates)
    return found != negate


def to_python(value: Any) -> Any:
    """A Java/Groovy value as JSON-ready Python."""
    import jpype

    java = jpype.JClass
    if isinstance(value, java("java.lang.Boolean")):  # before int: JPype boxes it as one
        return bool(value.booleanValue())
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, java("java.lang.Number")):
        number = float(value.doubleValue())
        return int(number) if number.is_integer() else number
    if isinstance(value, java("java.util.Map")):
        return {str(k): to_python(value.get(k)) for k in value.keySet()}
    if isinstance(value, java("java.util.List")):
        return [to_python(v) for v in value]
    return str(value)


class Renderer:
    """One JVM, the Groovy renderer compiled once, many requests."""

    def __init__(self, jar: Path, root: Path) -> None:
        import jpype

        if not jpype.isJVMStarted():
            jpype.startJVM(classpath=[str(jar)])
        loader = jpype.JClass("groovy.lang.GroovyClassLoader")()
        loader.parseClass(jpype.JClass("java.io.File")(str(GROOVY)))
        self.rendered = jpype.JClass(loader.loadClass("RenderedConfig"))
        self.jpype = jpype
        self.root = root
        self.processes = find_processes(root)

    def apply(
        self, chosen: dict[str, Any], scope: Any, task: Any, workflow: Any, inputs: Any
    ) -> None:
        """Set in ``chosen`` the directives of one config scope (``ext`` merges)."""
        for directive in map(str, scope.keySet()):
            if directive not in DIRECTIVES:
                continue
            resolved = to_python(
                self.rendered.resolve(scope.get(directive), task, workflow, inputs)
            )
            if directive == "ext":
                chosen.setdefault("ext", {}).update(resolved)
            else:
                chosen[directive] = resolved

    def java_map(self, values: dict[str, Any]) -> Any:
        """A Groovy map of JSON values (lists as Java lists, so that [] is false)."""
        java = self.jpype.JClass
        found = java("java.util.LinkedHashMap")()
        for key, value in values.items():
            if isinstance(value, list):
                items = java("java.util.ArrayList")()
                for item in value:
                    items.add(item)
                value = items
            found.put(key, value)
        return found

    def render(self, request: dict[str, Any]) -> dict[str, Any]:
        java = self.jpype.JClass
        cli_params = java("java.util.LinkedHashMap")()
        for key, value in request.get("params", {}).items():
            cli_params.put(key, value)
        profiles = java("java.util.ArrayList")()
        for profile in request.get("profiles", []):
            profiles.add(profile)
        config = java("java.nio.file.Path").of(str(self.root / "nextflow.config"))
        result = self.rendered.evaluate(config, profiles, cli_params)
        settings = result.get("settings")
        engine = next(
            (e for e in ENGINES if (to_python(settings.get(e)) or {}).get("enabled") is True), None
        )
        integer = java("java.lang.Integer")  # as Nextflow's: a Long is never `in` [75, ...]
        task = java("java.util.LinkedHashMap")()
        task.put("attempt", integer.valueOf(int(request.get("attempt", 1))))
        task.put("exitStatus", integer.valueOf(int(request.get("exit_status", 0))))
        workflow = java("java.util.LinkedHashMap")()
        workflow.put("containerEngine", engine)
        process = settings.get("process") or java("java.util.LinkedHashMap")()
        keys = [str(key) for key in process.keySet()]
        rendered = {}
        for name, (labels, module_directives) in self.processes.items():
            # Priority, lowest first: process defaults, the module's own directives,
            # withLabel, withName (selector keys of the process scope are not
            # directives, so they are skipped)
            selected = [
                process.get(key)
                for kind in ("withLabel:", "withName:")
                for key in keys
                if key.startswith(kind) and selector_matches(key, name, labels)
            ]
            inputs = self.java_map(
                TASK_INPUTS.get(name, {}) | request.get("inputs", {}).get(name, {})
            )
            chosen: dict[str, Any] = {}
            self.apply(chosen, process, task, workflow, inputs)
            chosen.update(module_directives)
            for scope in selected:
                self.apply(chosen, scope, task, workflow, inputs)
            rendered[name] = chosen
        return {
            "profiles": request.get("profiles", []),
            "applied": to_python(result.get("applied")),
            "params": to_python(result.get("params")),
            "engine": engine,
            "processes": rendered,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "requests", nargs="?", type=Path, help="JSON file of requests (default: stdin)"
    )
    parser.add_argument(
        "--root", type=Path, default=REPO_ROOT, help="pipeline folder (with nextflow.config)"
    )
    args = parser.parse_args(argv)
    jar = find_jar()
    if jar is None:
        print(f"render_config: the language server jar is missing: {SETUP_HINT}", file=sys.stderr)
        return 2
    text = args.requests.read_text() if args.requests else sys.stdin.read()
    renderer = Renderer(jar, args.root.resolve())
    json.dump([renderer.render(request) for request in json.loads(text)], sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
