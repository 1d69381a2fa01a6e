"""Staff candidate files: read, validate, price, preview, submit, and report back.

``check_file`` turns a spreadsheet into a verdict per row (``CheckedFile``); ``build_preview``
sums it up; ``submit_checked`` (in ``gateway.intake.submit``) sends the valid rows through the
registration outbox; ``write_results`` writes the results workbook beside the input.
"""

from __future__ import annotations

from gateway.catalogue import load_catalogue
from gateway.errors import ConfigurationError
from gateway.intake.check import CheckedFile, check_file, missing_columns, resolve_plan
from gateway.intake.eligibility import Eligibility, load_eligibility
from gateway.intake.fees import FeeSchedule, load_fees, parse_yes_no
from gateway.intake.preview import Preview, PreviewLine, build_preview
from gateway.intake.problems import IntakeFileError, RowProblem
from gateway.intake.reader import CandidateFile, Layout, SourceRow, open_candidate_file
from gateway.intake.results import RowOutcome, results_path, write_results
from gateway.intake.validate import IntakeOptions, IntakeRules, RowResult, ValidRow
from gateway.settings import Settings


def load_rules(settings: Settings) -> IntakeRules:
    """The catalogue, fee schedule and eligibility mapping the settings point at."""
    catalogue = load_catalogue(settings.catalogue_file)
    if not catalogue.certificates:
        raise ConfigurationError(
            "no certificate catalogue: set catalogue_file in xgate.toml "
            "(the demo's is examples/data/catalogue.toml)"
        )
    return IntakeRules(
        catalogue, load_fees(settings.fees_file), load_eligibility(settings.eligibility_file)
    )


__all__ = [
    "CandidateFile",
    "CheckedFile",
    "Eligibility",
    "FeeSchedule",
    "IntakeFileError",
    "IntakeOptions",
    "IntakeRules",
    "Layout",
    "Preview",
    "PreviewLine",
    "RowOutcome",
    "RowProblem",
    "RowResult",
    "SourceRow",
    "ValidRow",
    "build_preview",
    "check_file",
    "load_eligibility",
    "load_fees",
    "load_rules",
    "missing_columns",
    "open_candidate_file",
    "parse_yes_no",
    "resolve_plan",
    "results_path",
    "write_results",
]
