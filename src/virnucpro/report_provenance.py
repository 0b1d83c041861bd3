"""The provenance block of the reports: what made them, for a user to file with them.

A result handed to a colleague or a reviewer must say which version, settings and
models produced it. Both HTML reports and the comparison's markdown end with the
same block: tool version, date, the command's parameters, each model with its
revision and weights digest, the classifier, and any caveat (a demo classifier,
random test models).

The date is the day the report was made (UTC), or that of ``SOURCE_DATE_EPOCH``
when set, so that reruns within a day (and reproducible builds) give the same bytes.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from virnucpro import __version__
from virnucpro.errors import InputError
from virnucpro.html_page import context_list, join_parts


def report_date() -> str:
    """Today in UTC as YYYY-MM-DD, or the day of ``SOURCE_DATE_EPOCH``."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        moment = datetime.now(timezone.utc)
    else:
        try:
            moment = datetime.fromtimestamp(int(epoch), timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise InputError(
                f"SOURCE_DATE_EPOCH must be whole seconds since 1970, got {epoch!r}"
            ) from None
    return moment.strftime("%Y-%m-%d")


#: What a source that does not record a model's identity gives for it
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class ModelUsed:
    """One model behind the numbers, as its feature files record it."""

    role: str
    embedder: str
    model_id: str
    revision: str
    weights_sha256: str

    def text(self) -> str:
        if not self.model_id:
            return f"{self.embedder} (no model: computed from the sequence alone)"
        if self.model_id == NOT_RECORDED:
            return f"{self.embedder} (model, revision and weights not recorded)"
        revision = self.revision or "unpinned"
        weights = self.weights_sha256 or "not recorded"
        return f"{self.embedder} ({self.model_id} @ {revision}; weights sha256 {weights})"


@dataclass(frozen=True)
class Provenance:
    """What made a report; ``caveats`` are shown first, as warnings."""

    parameters: Mapping[str, str]
    models: Sequence[ModelUsed] = ()
    classifier: str | None = None
    caveats: Sequence[str] = ()
    version: str = __version__
    date: str = field(default_factory=report_date)

    def rows(self) -> dict[str, str]:
        """The block as ordered label -> text pairs."""
        rows = {"VirNucPro version": self.version, "Date": self.date}
        rows["Parameters"] = (
            " ".join(f"{key}={value}" for key, value in self.parameters.items()) or "none"
        )
        for model in self.models:
            rows[f"{model.role} model"] = model.text()
        if self.classifier is not None:
            rows["Classifier"] = self.classifier
        return rows

    def caveats_html(self) -> str:
        """The caveats as warning paragraphs ("" without any)."""
        return "\n".join(f'<p class="caveat">{html.escape(caveat)}</p>' for caveat in self.caveats)

    def html(self) -> str:
        return join_parts(["<h2>Provenance</h2>", self.caveats_html(), context_list(self.rows())])

    def markdown(self) -> list[str]:
        lines = ["## Provenance", ""]
        lines += [f"> **Caveat:** {caveat}" for caveat in self.caveats]
        if self.caveats:
            lines.append("")
        lines += [f"- {label}: {text}" for label, text in self.rows().items()]
        return lines


def models_of(metadata: Mapping[str, str], roles: Mapping[str, str]) -> list[ModelUsed]:
    """The models a feature file's metadata names; ``roles`` maps a key prefix
    (``""`` for a single-model file, ``"dna_"``/``"protein_"`` for a merged one) to its label."""
    return [
        ModelUsed(
            role,
            metadata.get(f"{prefix}embedder", ""),
            metadata.get(f"{prefix}model_id", ""),
            metadata.get(f"{prefix}revision", ""),
            metadata.get(f"{prefix}weights_sha256", ""),
        )
        for prefix, role in roles.items()
    ]


#: Roles of a merged feature file's two models
MERGED_ROLES = {"dna_": "DNA", "protein_": "Protein"}
