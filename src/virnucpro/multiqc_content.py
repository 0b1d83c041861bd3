"""MultiQC custom content: summaries the steps write for the pipeline's MultiQC report.

MultiQC turns a file named ``*_mqc.tsv`` into a table section and ``*_mqc.html``
into an HTML section ("custom content"), each configured by the YAML at its top:
``#``-commented lines above the TSV's column names, an HTML comment before the
HTML. The section ids given here are the keys by which assets/multiqc_config.yml
orders the report.

MultiQC writes a table's row names into its page as they are, unescaped, and
splits rows at tabs: a row is therefore named only by a safe name
(``virnucpro.files.names``), as the pipeline names its samples and embedders.
HTML sections are written in ASCII, their text escaped by the modules that make them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from virnucpro.errors import InputError
from virnucpro.files.names import SAFE_NAME

#: MultiQC format strings of the columns
COUNT = "{:,.0f}"
FRACTION = "{:,.3f}"


@dataclass(frozen=True)
class Section:
    """A report section: the file that holds it, its id (the anchor the config orders),
    its heading and the description under it."""

    file_name: str
    id: str
    name: str
    description: str


CALLS_SECTION = Section(
    "virnucpro_calls_mqc.tsv",
    "virnucpro_calls",
    "Calls per sample",
    "The sequences of each sample by call, the share called virus, those of low coverage, "
    "and the chunks they were cut into. The predict step's report.html shows the score "
    "histograms and every sequence.",
)
COMPARISON_SECTION = Section(
    "virnucpro_comparison_mqc.tsv",
    "virnucpro_comparison",
    "Embedder comparison",
    "Accuracy and speed of each protein embedder, against the baseline; comparison.tsv has "
    "every column (95% intervals of all metrics, paired deltas), report.html the plots.",
)
VERDICTS_SECTION = Section(
    "virnucpro_verdicts_mqc.html",
    "virnucpro_verdicts",
    "Verdicts",
    "Is an embedder's speed worth its accuracy? Each verdict weighs its paired F1 "
    "interval against the allowed loss.",
)
#: The section MultiQC makes of the *_mqc_versions.yml files ({process: {tool: version}})
VERSIONS_SECTION_ID = "multiqc_software_versions"
#: The report's order of the sections (assets/multiqc_config.yml)
SECTION_ORDER = (CALLS_SECTION.id, COMPARISON_SECTION.id, VERDICTS_SECTION.id, VERSIONS_SECTION_ID)


@dataclass(frozen=True)
class Column:
    """A table column: its key (the TSV's column name), heading, tooltip, MultiQC format
    and any other MultiQC column settings (``min``, ``max``, ``hidden``, ``suffix``)."""

    key: str
    title: str
    description: str
    format: str | None = COUNT
    settings: Mapping[str, Any] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        found = {"title": self.title, "description": self.description}
        if self.format is not None:
            found["format"] = self.format
        return {**found, **self.settings}


def _header(config: Mapping[str, Any], prefix: str) -> str:
    """``config`` as YAML, each line after ``prefix`` (ASCII: other characters escaped)."""
    text = yaml.safe_dump(dict(config), sort_keys=False, width=10_000, allow_unicode=False)
    return "".join(f"{prefix}{line}\n" for line in text.splitlines())


def _cell(value: Any) -> str:
    """A TSV cell: empty for a missing value, floats to 6 significant digits."""
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def table_text(
    section: Section,
    row_header: str,
    row_kind: str,
    columns: Iterable[Column],
    rows: Iterable[tuple[str, Mapping[str, Any]]],
) -> str:
    """A ``*_mqc.tsv`` table: one row per (name, values by column key); ``row_header``
    heads the names' column, ``row_kind`` names them in the error a bad name raises."""
    columns = list(columns)
    config = {
        "id": section.id,
        "section_name": section.name,
        "description": section.description,
        "plot_type": "table",
        "pconfig": {"id": f"{section.id}_table", "title": section.name, "col1_header": row_header},
        "headers": {column.key: column.header() for column in columns},
    }
    lines = [_header(config, "# "), "\t".join([row_header, *(c.key for c in columns)]) + "\n"]
    for name, values in rows:
        if not SAFE_NAME.fullmatch(name):
            raise InputError(
                f"{row_kind} {name!r} cannot name a row of {section.file_name}: MultiQC shows "
                "row names as they are, so they may hold only letters, digits, '.', '_' and "
                "'-', starting with a letter or digit"
            )
        lines.append("\t".join([name, *(_cell(values.get(c.key)) for c in columns)]) + "\n")
    return "".join(lines)


def html_text(section: Section, body: str) -> str:
    """A ``*_mqc.html`` section of ``body`` (HTML, escaped by the caller), in ASCII."""
    config = {"id": section.id, "section_name": section.name, "description": section.description}
    page = f"<!--\n{_header(config, '')}-->\n{body}\n"
    return page.encode("ascii", "xmlcharrefreplace").decode("ascii")
