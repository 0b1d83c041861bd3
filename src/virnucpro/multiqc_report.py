"""The pipeline's MultiQC report: MultiQC run on the steps' custom content, offline.

The steps write their summaries as MultiQC custom content (virnucpro.multiqc_content)
and the pipeline its software versions as ``*_mqc_versions.yml``. MultiQC skips a
file it cannot parse with a log line and exit status 0, so every file given must
show up as its section in the page, or nothing is written: a report that silently
lacks the comparison would read as a run without one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.multiqc_content import (
    CALLS_SECTION,
    COMPARISON_SECTION,
    VERDICTS_SECTION,
    VERSIONS_SECTION_ID,
)

#: The section id of each file a step writes, by file name
STEP_SECTIONS = {
    section.file_name: section.id
    for section in (CALLS_SECTION, COMPARISON_SECTION, VERDICTS_SECTION)
}
#: MultiQC reads a file ending so as software versions ({process: {tool: version}})
VERSIONS_SUFFIX = "_mqc_versions.yml"
#: What MultiQC writes with assets/multiqc_config.yml
REPORT_NAME = "multiqc_report.html"
DATA_NAME = "multiqc_data"


def section_id(path: Path) -> str:
    """The section ``path`` makes in the report; a file of no step is refused."""
    if path.name in STEP_SECTIONS:
        return STEP_SECTIONS[path.name]
    if path.name.endswith(VERSIONS_SUFFIX):
        return VERSIONS_SECTION_ID
    known = ", ".join([*STEP_SECTIONS, f"*{VERSIONS_SUFFIX}"])
    raise InputError(f"{path}: not a file of the pipeline's MultiQC report (known: {known})")


def write_multiqc_report(content: Sequence[Path], config: Path, output_dir: Path) -> Path:
    """Run MultiQC on ``content`` with ``config``; returns the report in ``output_dir``.

    The report and its data folder replace those of an earlier run only once
    MultiQC has finished and the page holds a section for every file.
    """
    if not content:
        raise InputError("no MultiQC content given: nothing to report")
    doubled = sorted(name for name, count in Counter(p.name for p in content).items() if count > 1)
    if doubled:
        raise InputError(f"MultiQC content given twice: {', '.join(doubled)}")
    expected = {path: section_id(path) for path in content}
    for path in content:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    if not config.is_file():
        raise InputError(f"{config}: no such MultiQC config file")
    import multiqc
    from multiqc.core.update_config import ClConfig

    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".multiqc-") as work:
        settings = ClConfig(
            config_files=[str(config)],
            output_dir=work,
            force=True,
            quiet=True,
            no_ansi=True,
            no_version_check=True,
        )
        result = multiqc.run(*map(str, content), cfg=settings)
        report = Path(work) / REPORT_NAME
        if result.sys_exit_code != 0 or not report.is_file():
            raise InputError(f"MultiQC failed: {result.message or 'no report written'}")
        page = report.read_text(encoding="utf-8")
        unread = [str(path) for path, section in expected.items() if f'id="{section}"' not in page]
        if unread:
            raise InputError(
                f"MultiQC could not read {', '.join(unread)}: its report would lack them"
            )
        data = output_dir / DATA_NAME
        if data.exists():
            shutil.rmtree(data)
        os.replace(Path(work) / DATA_NAME, data)
        os.replace(report, output_dir / REPORT_NAME)
    return output_dir / REPORT_NAME
