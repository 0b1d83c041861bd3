"""Every local module and subworkflow meta.yml satisfies nf-core's meta.yml schema.

The schemas are nf-core/modules' own (modules/meta-schema.json and
subworkflows/yaml-schema.json), kept beside the checkout in ../shared/nf-core/ so
that the check runs offline; without that folder these tests skip.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from jsonschema import validators

NF_CORE = ROOT.parent / "shared" / "nf-core"
SCHEMA_FILES = {
    "modules": "modules-meta-schema.json",
    "subworkflows": "subworkflows-meta-schema.json",
}
META_FILES = [
    (kind, path)
    for kind in SCHEMA_FILES
    for path in sorted((ROOT / kind / "local").glob("*/meta.yml"))
]
# jsonschema quotes the whole failing instance; a channel's description can be long.
MAX_MESSAGE = 300


@pytest.fixture(scope="module")
def nf_core_schemas() -> dict[str, dict]:
    """The nf-core schemas by component kind, each checked against its own metaschema."""
    if not NF_CORE.is_dir():
        pytest.skip(f"{NF_CORE} is not present")
    schemas = {}
    for kind, name in SCHEMA_FILES.items():
        schema = json.loads((NF_CORE / name).read_text())
        validators.validator_for(schema).check_schema(schema)
        schemas[kind] = schema
    return schemas


def short(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def meta_errors(path: Path, schema: dict) -> list[str]:
    """One line per schema violation of ``path``: the file, the JSON path, the message.

    For a failed ``anyOf``/``oneOf`` the alternatives' own errors follow, indented,
    so that the line says which key was missing or malformed."""
    try:
        shown = path.relative_to(ROOT)
    except ValueError:
        shown = path
    document = yaml.safe_load(path.read_text())
    validator = validators.validator_for(schema)(schema)
    lines = []
    for error in sorted(validator.iter_errors(document), key=lambda e: (e.json_path, e.message)):
        lines.append(f"{shown}: {error.json_path}: {short(error.message)}")
        lines.extend(
            f"    {sub.json_path}: {short(sub.message)}"
            for sub in sorted(error.context, key=lambda e: (e.json_path, e.message))
        )
    return lines


def assert_meta_valid(path: Path, schema: dict) -> None:
    errors = meta_errors(path, schema)
    assert not errors, "nf-core meta.yml schema errors:\n" + "\n".join(errors)


def test_every_component_folder_has_a_meta_yml():
    for kind in SCHEMA_FILES:
        folders = {p.parent for p in (ROOT / kind / "local").glob("*/main.nf")}
        metas = {p.parent for k, p in META_FILES if k == kind}
        assert folders, f"no {kind}/local/*/main.nf found"
        assert metas == folders, f"{kind}: folders without meta.yml: {sorted(folders - metas)}"


@pytest.mark.parametrize(
    ("kind", "path"), META_FILES, ids=[str(p.relative_to(ROOT)) for _, p in META_FILES]
)
def test_meta_yml_matches_nf_core_schema(kind, path, nf_core_schemas):
    assert_meta_valid(path, nf_core_schemas[kind])


@pytest.mark.parametrize(
    ("kind", "path"), META_FILES, ids=[str(p.relative_to(ROOT)) for _, p in META_FILES]
)
def test_meta_yml_name_is_the_folder_name(kind, path):
    name = yaml.safe_load(path.read_text()).get("name")
    assert name == path.parent.name, (
        f"{path.relative_to(ROOT)}: name is {name!r}, folder is {path.parent.name!r}"
    )


def broken_copy(tmp_path: Path, kind: str, change) -> Path:
    """A copy of the first ``kind`` meta.yml under ``tmp_path``, with ``change`` applied."""
    source = next(p for k, p in META_FILES if k == kind)
    document = copy.deepcopy(yaml.safe_load(source.read_text()))
    change(document)
    target = tmp_path / kind / source.parent.name / "meta.yml"
    target.parent.mkdir(parents=True)
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


@pytest.mark.parametrize(
    ("kind", "key"),
    [("modules", "tools"), ("modules", "keywords"), ("subworkflows", "components")],
)
def test_check_fails_on_a_missing_required_key(tmp_path, nf_core_schemas, kind, key):
    broken = broken_copy(tmp_path, kind, lambda document: document.pop(key))
    with pytest.raises(AssertionError) as failure:
        assert_meta_valid(broken, nf_core_schemas[kind])
    assert f"{broken}: $: '{key}' is a required property" in str(failure.value)


def test_check_names_the_json_path_of_a_nested_error(tmp_path, nf_core_schemas):
    def drop_urls(document):
        tool = document["tools"][0]["virnucpro"]
        for key in ("homepage", "documentation", "tool_dev_url", "doi"):
            tool.pop(key, None)
        tool["licence"] = "MIT"

    broken = broken_copy(tmp_path, "modules", drop_urls)
    message = "\n".join(meta_errors(broken, nf_core_schemas["modules"]))
    assert f"{broken}: $.tools[0].virnucpro: " in message
    assert "'homepage' is a required property" in message
    assert f"{broken}: $.tools[0].virnucpro.licence: 'MIT' is not of type 'array'" in message


MODULES = sorted((ROOT / "modules" / "local").glob("*/main.nf"))
CHANNEL_ITEM = re.compile(r"\b(?:val|path|env|eval)\(\s*(?:'([^']*)'|\"([^\"]*)\"|(\w+))")


def declared_inputs(main: str) -> list[list[str]]:
    """The input channels of a process: for each, the names of its elements."""
    block = main[main.index("input:") : main.index("output:")]
    lines = [line.strip() for line in block.splitlines()[1:]]
    return [
        [next(name for name in match if name) for match in CHANNEL_ITEM.findall(line)]
        for line in lines
        if line and not line.startswith("//")
    ]


def described_inputs(meta: dict) -> list[list[str]]:
    return [
        [next(iter(element)) for element in channel]
        if isinstance(channel, list)
        else [next(iter(channel))]
        for channel in meta["input"]
    ]


@pytest.mark.parametrize("main", MODULES, ids=[path.parent.name for path in MODULES])
def test_meta_yml_describes_the_inputs_and_outputs_the_module_declares(main):
    """What nf-core's correct_meta_inputs / correct_meta_outputs lint checks, offline."""
    text = main.read_text()
    meta = yaml.safe_load((main.parent / "meta.yml").read_text())
    assert described_inputs(meta) == declared_inputs(text)
    emits = re.findall(r"emit:\s*(\w+)", text[text.index("output:") : text.index("script:")])
    assert list(meta["output"]) == emits
    topic_outputs = [key for key in emits if key.startswith("versions_")]
    if "topic: versions" not in text:  # MULTIQC_REPORT reads the topic, so sends nothing to it
        assert "topics" not in meta
        return
    assert len(meta["topics"]["versions"]) == len(topic_outputs)
    for channel in meta["topics"]["versions"]:
        assert next(iter(channel[0])) == "${task.process}"


def test_input_check_reads_tuples_and_single_values():
    main = "input:\n    tuple val(meta), path(reads)\n    // a comment\n    val(size)\noutput:\n"
    assert declared_inputs(main) == [["meta", "reads"], ["size"]]
