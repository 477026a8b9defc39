from __future__ import annotations

from pipelines.build_reason import build_failure_reason

PIP_FAILURE = [
    "Installing requirements from requirements.txt",
    "Collecting numpy==1.0.0",
    "ERROR: Could not find a version that satisfies the requirement nosuchpkg==9 (from versions: none)",
    "ERROR: No matching distribution found for nosuchpkg==9",
    *[f"  noise line {i}" for i in range(200)],
    "Installing requirements from requirements.txt failed (pip exited with status 1)",
    "Pipeline creation failed",
]


def test_it_picks_pips_last_error_line_not_the_end_of_the_log():
    assert (
        build_failure_reason(PIP_FAILURE)
        == "No matching distribution found for nosuchpkg==9"
    )


def test_it_skips_pips_generic_wrapper_lines():
    lines = [
        "ModuleNotFoundError: No module named 'setuptools'",
        "error: subprocess-exited-with-error",
        "note: This error originates from a subprocess, and is likely not a problem with pip.",
        "Pipeline creation failed",
    ]
    assert (
        build_failure_reason(lines)
        == "ModuleNotFoundError: No module named 'setuptools'"
    )


def test_it_falls_back_on_the_builds_own_message():
    lines = [
        "Requirements file 'req.txt' not found in the uploaded code",
        "Pipeline creation failed",
    ]
    assert build_failure_reason(lines) == lines[0]


def test_it_is_none_for_an_empty_log():
    assert build_failure_reason([]) is None
    assert build_failure_reason(["Pipeline creation failed"]) is None
