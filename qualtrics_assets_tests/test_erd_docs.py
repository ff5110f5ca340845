"""The README's ERD diagram and table reference are the ones erd.py generates today."""

from pathlib import Path

from qualtrics_assets import erd
from qualtrics_assets.erd_docs import BEGIN, END, generated_block

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_erd_matches_erd_py():
    text = README.read_text(encoding="utf-8")
    current = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert current == generated_block(), "run: .venv/bin/python -m qualtrics_assets.erd_docs README.md"


def test_every_table_and_relationship_is_in_the_diagram():
    block = generated_block()
    for table in erd.TABLES:
        assert f"    {table.name} {{" in block
        for rel in table.relationships:
            assert f"{rel.ref_table} ||--o{{ {table.name}" in block
