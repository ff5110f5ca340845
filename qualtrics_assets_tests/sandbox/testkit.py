"""Helpers the sandbox tests share: payload shape comparison and a plain-requests export runner."""

from __future__ import annotations

import io
import json
import zipfile

import requests

# Keys whose values are maps keyed by ids (QID…, BL_…, choice ids): their entries are samples.
MAP_KEYS = frozenset({"Questions", "Blocks", "Choices", "Answers", "RecodeValues", "ResponseSets", "questions",
                      "blocks", "choices", "subQuestions", "exportColumnMap", "AdditionalQuestions", "VariableNaming",
                      "LoopingOptions", "Static"})


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _union(samples: list) -> object:
    """One representative of several real values: dicts merged key-wise (first value wins)."""
    dicts = [s for s in samples if isinstance(s, dict)]
    if not dicts:
        return next((s for s in samples if s is not None), None)
    merged: dict = {}
    for d in dicts:
        for k, v in d.items():
            if merged.get(k) is None:
                merged[k] = v
    return merged


def shape_diff(real, ours, path: str = "$", tolerate: frozenset = frozenset(), loose: bool = False) -> list[str]:
    """Differences in keys and value types between a recorded payload and an emulated one.

    Exact key sets for ordinary objects (minus `tolerate`, keys real payloads vary on); entries of
    id-keyed maps and list elements are checked against the union of the recorded entries (`loose`:
    no key may be unknown, but missing ones are fine). None matches any type (nullable fields).
    """
    if real is None or ours is None:
        return []
    if _kind(real) != _kind(ours):
        return [f"{path}: recorded {_kind(real)}, emulated {_kind(ours)}"]
    diffs: list[str] = []
    if isinstance(real, dict):
        key = path.rsplit(".", 1)[-1]
        if key in MAP_KEYS:
            sample = _union(list(real.values()))
            for k, v in list(ours.items())[:20]:
                diffs += shape_diff(sample, v, f"{path}.{k}", tolerate, loose=True)
            return diffs
        missing = set() if loose else set(real) - set(ours) - tolerate
        extra = set(ours) - set(real) - tolerate
        diffs += [f"{path}: emulated lacks {k!r}" for k in sorted(missing)]
        diffs += [f"{path}: emulated has unrecorded {k!r}" for k in sorted(extra)]
        for k in (set(real) & set(ours)) - tolerate:
            diffs += shape_diff(real[k], ours[k], f"{path}.{k}", tolerate, loose)
    elif isinstance(real, list) and real and ours:
        sample = _union(real)
        for k, v in enumerate(ours[:20]):
            diffs += shape_diff(sample, v, f"{path}[{k}]", tolerate, loose=loose or isinstance(sample, dict))
    return diffs


def run_export(base_url: str, survey_id: str, body: dict, headers: dict, max_polls: int = 50) -> tuple[bytes, dict]:
    """POST, poll to completion, download. Returns (file bytes, final progress result)."""
    api = f"{base_url}/API/v3/surveys/{survey_id}/export-responses"
    start = requests.post(api, json=body, headers=headers, timeout=30)
    start.raise_for_status()
    progress_id = start.json()["result"]["progressId"]
    for _ in range(max_polls):
        result = requests.get(f"{api}/{progress_id}", headers=headers, timeout=30).json()["result"]
        if result["status"] != "inProgress":
            break
    if result["status"] != "complete":
        return b"", result
    data = requests.get(f"{api}/{result['fileId']}/file", headers=headers, timeout=300).content
    return data, result


def export_records(base_url: str, survey_id: str, body: dict, headers: dict) -> list[dict]:
    """Run a JSON or NDJSON export (zipped or not) and return its response records."""
    data, result = run_export(base_url, survey_id, body, headers)
    assert result["status"] == "complete", result
    if body.get("compress", True):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            data = zf.read(zf.namelist()[0])
    text = data.decode("utf-8")
    if body["format"] == "ndjson":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)["responses"]
