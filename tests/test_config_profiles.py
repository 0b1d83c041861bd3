"""What every process gets from the config, per profile: containers, GPU options, retries.

Nextflow cannot run here (no `nextflow config`), so tools/nextflow-lint/render_config.py
evaluates nextflow.config with Nextflow's own config parser, applies the profiles and
resolves each module's directives (process defaults < withLabel < withName, closures
called with task.attempt, task.exitStatus and workflow.containerEngine). One JVM
renders every request of this file.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from virnucpro.embed.embedders.registry import EMBEDDERS

pytestmark = pytest.mark.nextflow

REPO = Path(__file__).resolve().parents[1]
PYTHON = REPO / ".venv-nflint" / "bin" / "python"
RENDER = REPO / "tools" / "nextflow-lint" / "render_config.py"
UTILS = REPO / "subworkflows" / "local" / "utils_nfcore_virnucpro_pipeline" / "main.nf"
VERSION = re.search(r"version\s*=\s*'([^']+)'", (REPO / "nextflow.config").read_text()).group(1)
GPU_PROCESSES = {"EMBED_DNA", "EMBED_PROTEIN", "BENCHMARK_EMBEDDER"}
ENGINE_GPU_OPTION = {"docker": "--gpus all", "singularity": "--nv", "apptainer": "--nv", None: ""}

PROFILES = [
    [],
    ["docker"],
    ["singularity"],
    ["apptainer"],
    ["conda"],
    ["test"],
    ["test", "docker"],
    ["test_compare"],
    ["test_full"],
    ["gpu"],
    ["gpu", "docker"],
    ["gpu", "singularity"],
    ["gpu", "apptainer"],
    ["gpu", "conda"],
    ["slurm", "gpu", "apptainer"],
]
ENGINES = {"docker": "docker", "singularity": "singularity", "apptainer": "apptainer"}


def render(requests: list[dict], root: Path = REPO) -> list[dict]:
    if not PYTHON.exists():
        pytest.fail(f"{PYTHON} is missing: run `make setup`")
    result = subprocess.run(
        [str(PYTHON), str(RENDER), "--root", str(root)],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@cache
def rendered() -> dict[str, dict]:
    """Every request this file checks, rendered in one run, keyed by a readable name."""
    requests = {",".join(profiles) or "none": {"profiles": profiles} for profiles in PROFILES}
    for attempt in (1, 2, 3):
        requests[f"oom attempt {attempt}"] = {
            "profiles": ["gpu", "docker"],
            "attempt": attempt,
            "exit_status": 75,
        }
    for status in (1, 2, 137, 140):
        requests[f"exit {status}"] = {"profiles": ["gpu", "docker"], "exit_status": status}
    return dict(zip(requests, render(list(requests.values())), strict=True))


def rendered_one(profiles: list[str], params: dict | None = None) -> dict:
    return render([{"profiles": profiles, "params": params or {}}])[0]


def gpu_options(settings: dict) -> dict:
    """The directives that give a task a GPU, as set for one process."""
    return {
        "accelerator": settings.get("accelerator"),
        "containerOptions": settings.get("containerOptions") or "",
        "clusterOptions": settings.get("clusterOptions") or "",
    }


def test_gpu_profile_labels_exactly_the_embedding_and_benchmark_modules():
    processes = rendered()["none"]["processes"]
    assert len(processes) == 16
    labelled = {
        name
        for name, text in (
            (path.parent.name.upper(), path.read_text())
            for path in (REPO / "modules" / "local").glob("*/main.nf")
        )
        if "label 'process_gpu'" in text
    }
    assert labelled == GPU_PROCESSES


@pytest.mark.parametrize("profiles", PROFILES, ids=[",".join(p) or "none" for p in PROFILES])
def test_gpu_options_reach_only_gpu_tasks_and_only_with_the_gpu_profile(profiles):
    result = rendered()[",".join(profiles) or "none"]
    assert sorted(result["applied"]) == sorted(profiles), "a profile is missing from the config"
    engine = next((ENGINES[p] for p in profiles if p in ENGINES), None)
    assert result["engine"] == engine
    for name, settings in result["processes"].items():
        options = gpu_options(settings)
        if name in GPU_PROCESSES and "gpu" in profiles:
            assert options == {
                "accelerator": 1,
                "containerOptions": ENGINE_GPU_OPTION[engine],
                "clusterOptions": "--gres=gpu:1",
            }, name
        else:
            assert options == {"accelerator": None, "containerOptions": "", "clusterOptions": ""}, (
                name
            )


@pytest.mark.parametrize("profiles", PROFILES, ids=[",".join(p) or "none" for p in PROFILES])
def test_every_process_runs_the_pipeline_image_or_environment(profiles):
    result = rendered()[",".join(profiles) or "none"]
    for name, settings in result["processes"].items():
        # The CPU image, but for the GPU steps under -profile gpu: the CUDA image
        gpu_step = name in GPU_PROCESSES and "gpu" in profiles
        image = "virnucpro-nf" if gpu_step else "virnucpro-nf-cpu"
        assert settings["container"] == f"{image}:{VERSION}", name
        if "conda" in profiles:
            assert Path(settings["conda"]) == REPO / "containers" / "environment.yml", name
        else:
            assert "conda" not in settings, name
        assert settings.get("executor") == ("slurm" if "slurm" in profiles else None), name


def test_conda_environment_file_exists_and_the_package_comes_from_src():
    config = (REPO / "nextflow.config").read_text()
    assert (REPO / "containers" / "environment.yml").is_file()
    assert 'env.PYTHONPATH         = "${projectDir}/src"' in config


def test_gpu_tasks_are_scheduled_by_accelerator_not_by_forks():
    """Nextflow's local executor hands out the GPU ids of CUDA_VISIBLE_DEVICES, one
    per task asking for ``accelerator 1``, across all processes; maxForks would
    only limit each process alone (EMBED_DNA and EMBED_PROTEIN would still share
    one GPU). So GPU tasks ask for one GPU each and carry no fork limit, except
    the benchmarks, which are timed one after another whatever the GPU count."""
    processes = rendered()["gpu,docker"]["processes"]
    for name in GPU_PROCESSES:
        assert processes[name]["accelerator"] == 1, name
    assert "maxForks" not in processes["EMBED_DNA"]
    assert "maxForks" not in processes["EMBED_PROTEIN"]
    assert processes["BENCHMARK_EMBEDDER"]["maxForks"] == 1
    assert all("maxForks" not in s for n, s in processes.items() if n not in GPU_PROCESSES)


def test_gpu_profile_embeds_on_cuda_and_passes_the_task_gpu_to_containers():
    config = (REPO / "conf" / "gpu.config").read_text()
    assert rendered()["gpu,docker"]["params"]["device"] == "cuda"
    assert rendered()["docker"]["params"]["device"] == "auto"
    for engine in ("docker", "apptainer", "singularity"):
        assert f"{engine}.envWhitelist" in config and "CUDA_VISIBLE_DEVICES" in config
    args = rendered()["gpu,docker"]["processes"]["EMBED_DNA"]["ext"]["args"]
    assert "--device cuda" in args


def test_a_local_gpu_run_without_visible_devices_is_refused_before_any_task():
    # checkGpuScheduling lives beside PIPELINE_INITIALISATION, which main.nf runs first
    utils = UTILS.read_text()
    check = utils[utils.index("def checkGpuScheduling()") :]
    assert "CUDA_VISIBLE_DEVICES" in check and "executor != 'local'" in check
    assert "is empty, so no GPU task could ever start" in check
    start = utils.index("workflow PIPELINE_INITIALISATION {")
    assert "checkGpuScheduling()" in utils[start : utils.index("workflow PIPELINE_COMPLETION {")]
    entry = (REPO / "main.nf").read_text().split("workflow {", 1)[1]
    assert entry.index("PIPELINE_INITIALISATION()") < entry.index("MODEL_CACHE(")


def test_out_of_memory_is_retried_with_half_the_token_budget_each_time():
    budgets = []
    for attempt in (1, 2, 3):
        processes = rendered()[f"oom attempt {attempt}"]["processes"]
        assert all(s["errorStrategy"] == "retry" for s in processes.values())
        assert all(s["maxRetries"] == 2 for s in processes.values())
        dna = processes["EMBED_DNA"]["ext"]["args"]
        protein = processes["EMBED_PROTEIN"]["ext"]["args"]
        budget = int(re.search(r"--token-budget (\d+)", dna).group(1))
        assert f"--token-budget {budget}" in protein
        budgets.append(budget)
        # The benchmark keeps the run's budget: speeds at different budgets do not compare
        assert "--token-budget 16384" in processes["BENCHMARK_EMBEDDER"]["ext"]["args"]
    assert budgets == [16384, 8192, 4096]


@pytest.mark.parametrize(
    ("status", "strategy"), [(1, "terminate"), (2, "terminate"), (137, "retry"), (140, "retry")]
)
def test_other_failures_stop_the_run_and_killed_tasks_are_retried(status, strategy):
    processes = rendered()[f"exit {status}"]["processes"]
    assert {s["errorStrategy"] for s in processes.values()} == {strategy}


def test_test_profile_is_a_complete_predict_run_from_project_dir():
    params = rendered()["test"]["params"]
    assert params["mode"] == "predict" and params["precision"] == "fp32"
    assert Path(params["input"]) == REPO / "assets" / "test" / "samplesheet_predict.csv"
    classifier = Path(params["classifier"])
    assert classifier == REPO / "assets" / "models" / "composition_classifier"
    # Only --input and --classifier: the models and chunk size come from the classifier
    assert [params[name] for name in ("dna_model", "embedders", "chunk_size")] == [None] * 3
    # No device: on the CPU (its image has no CUDA), on the GPU with -profile gpu
    assert params["device"] == "auto"
    args = rendered()["test"]["processes"]["EMBED_PROTEIN"]["ext"]["args"]
    assert "--device auto" in args and "--precision fp32" in args


@pytest.mark.parametrize("profiles", [["gpu", "test"], ["test", "gpu"], ["gpu", "test_full"]])
def test_the_gpu_profile_embeds_on_cuda_whatever_the_profile_order(profiles):
    result = rendered_one(profiles)
    assert result["params"]["device"] == "cuda"
    assert "--device cuda" in result["processes"]["EMBED_DNA"]["ext"]["args"]
    assert result["processes"]["EMBED_DNA"]["container"] == f"virnucpro-nf:{VERSION}"
    assert result["processes"]["CLASSIFY"]["container"] == f"virnucpro-nf-cpu:{VERSION}"


def test_a_device_set_against_the_gpu_profile_is_refused_before_any_task():
    # A -c config or --device that sets the device back: checkGpuScheduling refuses it
    check = UTILS.read_text()
    check = check[check.index("def checkGpuScheduling()") :]
    assert "workflow.profile.tokenize(',')" in check
    assert "-profile gpu embeds on the GPU, but --device is" in check
    result = rendered_one(["gpu", "test"], {"device": "cpu"})
    assert result["params"]["device"] == "cpu"


def test_test_compare_profile_is_a_complete_compare_run_with_tiny_models():
    params = rendered()["test_compare"]["params"]
    assert params["mode"] == "compare"
    assert Path(params["input"]) == REPO / "assets" / "test" / "samplesheet_train.csv"
    assert params["dna_model"] == "tiny_dnabert_s"
    models_dir = Path(params["models_dir"])
    assert models_dir == REPO / "assets" / "models"
    embedders = params["embedders"].split(",")
    assert params["baseline"] in embedders
    for name in [params["dna_model"], *embedders]:
        assert (models_dir / name).is_dir() or name.endswith("_composition"), name


def test_test_full_profile_compares_on_every_bundled_real_genome():
    params = rendered()["test_full"]["params"]
    assert params["mode"] == "compare" and params["device"] == "auto"
    sheet = Path(params["input"])
    assert sheet == REPO / "assets" / "test_full" / "samplesheet.csv"
    rows = sheet.read_text().splitlines()[1:]
    files = [row.split(",")[1] for row in rows]
    assert all((sheet.parent / name).is_file() for name in files)
    labels = [row.split(",")[2] for row in rows]
    assert labels.count("viral") == 21 and labels.count("host") == 15
    assert params["group_by"] == "cluster"  # the default: a cluster-disjoint split
    embedders = params["embedders"].split(",")
    assert params["baseline"] in embedders
    for name in [params["dna_model"], *embedders]:
        assert (Path(params["models_dir"]) / name).is_dir() or name.endswith("_composition")


def test_renderer_follows_nextflow_precedence(tmp_path):
    """The renderer itself, on a config whose outcome is worked out by hand."""
    module = tmp_path / "modules" / "local" / "a" / "main.nf"
    module.parent.mkdir(parents=True)
    module.write_text("process ALPHA {\n    label 'big'\n    script:\n    'true'\n}\n")
    other = tmp_path / "modules" / "local" / "b" / "main.nf"
    other.parent.mkdir(parents=True)
    other.write_text("process BETA {\n    label 'small'\n    script:\n    'true'\n}\n")
    (tmp_path / "extra.config").write_text("process.queue = 'included'\n")
    (tmp_path / "nextflow.config").write_text(
        "params {\n    size = 1\n    name = 'config'\n}\n"
        "process {\n"
        "    queue = 'default'\n"
        "    withName: 'ALPHA' {\n        maxForks = 3\n    }\n"
        "    withLabel: 'big' {\n        maxForks = 5\n        queue = 'big'\n    }\n"
        "    withLabel: '!big' {\n        ext.args = { \"--n ${params.size * task.attempt}\" }\n    }\n"
        "}\n"
        "profiles {\n"
        "    second {\n        process.queue = 'second'\n    }\n"
        "    first {\n        includeConfig 'extra.config'\n        params.name = 'first'\n    }\n"
        "}\n"
    )
    plain, both = render(
        [
            {"profiles": [], "attempt": 2},
            {"profiles": ["first", "second"], "params": {"size": 10}},
        ],
        root=tmp_path,
    )
    assert plain["processes"] == {
        # withName wins over withLabel, whatever the order
        "ALPHA": {"queue": "big", "maxForks": 3},
        "BETA": {"queue": "default", "ext": {"args": "--n 2"}},
    }
    # Profiles apply in the order the config declares them; command-line params win
    assert both["applied"] == ["second", "first"]
    assert both["params"] == {"size": 10, "name": "first"}
    assert both["processes"]["BETA"] == {"queue": "included", "ext": {"args": "--n 10"}}


def test_models_from_the_cache_load_the_revision_of_their_parameter():
    (cached, folders, given) = render(
        [
            {"profiles": ["docker"]},
            {
                "profiles": ["docker"],
                "inputs": {
                    "EMBED_DNA": {"model": "dnabert_s", "model_dir": ["dnabert_s"]},
                    "EMBED_PROTEIN": {"embedder": "aa_composition", "model_dir": []},
                    "MODEL_CACHE": {"embedders": ["aa_composition", "fastesm2_650"]},
                },
            },
            {"profiles": ["docker"], "params": {"esm2_3b_revision": "main"}},
        ]
    )
    pins = {name: spec.revision for name, spec in EMBEDDERS.items() if spec.revision}
    dna = cached["processes"]["EMBED_DNA"]["ext"]["args"]
    assert dna.endswith(f"--revision {pins['dnabert_s']}")
    protein = cached["processes"]["EMBED_PROTEIN"]["ext"]["args"]
    assert protein.endswith(f"--revision {pins['esm2_3b']}")
    assert cached["processes"]["MODEL_CACHE"]["ext"]["args"] == (
        f"--revision dnabert_s={pins['dnabert_s']} --revision esm2_3b={pins['esm2_3b']}"
    )
    # A model folder holds its own revision; a model-free embedder has none
    assert "--revision" not in folders["processes"]["EMBED_DNA"]["ext"]["args"]
    assert "--revision" not in folders["processes"]["EMBED_PROTEIN"]["ext"]["args"]
    assert folders["processes"]["MODEL_CACHE"]["ext"]["args"] == (
        f"--revision fastesm2_650={pins['fastesm2_650']}"
    )
    assert given["processes"]["EMBED_PROTEIN"]["ext"]["args"].endswith("--revision main")
    assert given["processes"]["BENCHMARK_EMBEDDER"]["ext"]["args"].endswith("--revision main")


def test_every_hugging_face_model_has_a_revision_parameter_defaulting_to_its_pin():
    params = rendered()["none"]["params"]
    revisions = {
        name.removesuffix("_revision"): value
        for name, value in params.items()
        if name.endswith("_revision")
    }
    assert revisions == {name: spec.revision for name, spec in EMBEDDERS.items() if spec.model_id}
