#!/usr/bin/env python3
"""Call a plain Groovy function of a pipeline script, as Nextflow would run it.

Nextflow cannot run here, so the helpers of a ``.nf`` file that need no Nextflow
runtime (text in, text out: no ``params``, ``file()`` or ``workflow``) are tested
by compiling just that function with the Groovy of the language server jar (see
nextflow_lint.py) and calling it.

Usage: call_function.py FILE FUNCTION [JSON_ARGUMENT ...]; prints the result as
JSON. Run it with the interpreter of ``.venv-nflint``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from nextflow_lint import SETUP_HINT, find_jar
from render_config import to_python


def function_source(script: str, name: str) -> str:
    """The text of ``def name(...) { ... }`` at the top level of ``script``."""
    match = re.search(rf"^def {re.escape(name)}\(", script, re.MULTILINE)
    if not match:
        raise SystemExit(f"no top-level function {name} in the script")
    depth = 0
    for position in range(script.index("{", match.end()), len(script)):
        depth += {"{": 1, "}": -1}.get(script[position], 0)
        if depth == 0:
            return script[match.start() : position + 1]
    raise SystemExit(f"function {name} is not closed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script", type=Path)
    parser.add_argument("function")
    parser.add_argument("arguments", nargs="*", type=json.loads)
    options = parser.parse_args()
    jar = find_jar()
    if jar is None:
        sys.exit(SETUP_HINT)
    import jpype

    jpype.startJVM(classpath=[str(jar)])
    shell = jpype.JClass("groovy.lang.GroovyShell")()
    source = function_source(options.script.read_text(), options.function)
    compiled = shell.parse(source)
    arguments = jpype.JArray(jpype.JObject)(options.arguments)
    result = compiled.invokeMethod(options.function, arguments)
    print(json.dumps(to_python(result)))


if __name__ == "__main__":
    main()
