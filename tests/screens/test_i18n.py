"""The Chinese catalogues: every text the screens look up has a translation, no English text is
translated two ways, and placeholders survive translation."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from screens.widgets.values import REASONS

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted((ROOT / "resources" / "i18n" / "zh_CN").glob("*.toml"))


def catalogues() -> dict[str, dict[str, str]]:
    out = {}
    for path in CATALOGUES:
        with path.open("rb") as f:
            out[path.name] = tomllib.load(f)
    return out


def literal_tr_texts() -> dict[str, str]:
    """Every `tr("literal")` in screens/, with where it is."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "screens").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "tr"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_literal_text_and_value_wording_has_a_chinese_translation() -> None:
    merged: dict[str, str] = {}
    for table in catalogues().values():
        merged.update(table)
    wanted = literal_tr_texts() | {t: "screens/widgets/values.py" for t in REASONS.values()}
    missing = {text: where for text, where in wanted.items() if text and text not in merged}
    assert missing == {}
    assert len(wanted) > 200, "the scan finds the screens' texts"


def test_no_text_is_translated_two_ways() -> None:
    seen: dict[str, tuple[str, str]] = {}
    conflicts = []
    for name, table in catalogues().items():
        for key, value in table.items():
            if key in seen and seen[key][1] != value:
                conflicts.append((key, seen[key], (name, value)))
            seen.setdefault(key, (name, value))
    assert conflicts == []


def test_placeholders_survive_translation() -> None:
    broken = [
        (name, key)
        for name, table in catalogues().items()
        for key, value in table.items()
        if set(re.findall(r"\{\w*\}", key)) != set(re.findall(r"\{\w*\}", value))
    ]
    assert broken == []


def test_the_walk_flags_english_and_passes_names_units_and_project_words() -> None:
    from tests.screens.ui_text import untranslated

    data = ["Supply temperature leaving the plant", "PLC_SS4", "HS1.TT101"]
    texts = [
        ("a", "确认"),
        ("b", "HS1.TT101 Supply temperature leaving the plant 85.2 °C"),
        ("c", "_diag.PLC_SS4.online.offline"),
        ("d", "Acknowledge"),
        ("e", "确认 all"),
        ("f", "导出 CSV…"),
    ]
    assert untranslated(texts, data) == [("d", "Acknowledge"), ("e", "确认 all")]
