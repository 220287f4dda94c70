"""The gradebook's bookkeeping, without kernels: safe names, fixed columns, a journal that survives a crash, a rerun
that resumes, shards that merge into one row per file, and limits that cannot be switched off."""
import csv
import json
import os

import pytest

from tools import grade, gradebook

EXERCISES = {"01_linear_autoencoder": ["1", "2", "3"], "02_convolutional_autoencoder": ["1", "2"]}


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("name, shown", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1.ipynb", "'+1.ipynb"), ("-x", "'-x"),
    ("@sum", "'@sum"), ("plain.ipynb", "plain.ipynb"),
    (os.fsdecode(b"caf\xe9.ipynb"), "caf\\xe9.ipynb"), ("tab\tin", "tab\\tin"), ("line\nbreak", "line\\nbreak"),
])
def test_names_are_safe_for_csv_and_spreadsheets(name, shown):
    assert gradebook.spreadsheet_safe(name) == shown


def test_columns_are_fixed_whatever_a_row_holds(tmp_path):
    rows = [gradebook.new_row("a.ipynb"), gradebook.new_row("b.ipynb")]
    rows[0].update(notebook="01_linear_autoencoder.ipynb", points=2, max_points=8,
                   exercises={"1": {"points": 2}, "9": {"points": 5}}, status="ok")  # 9: no such exercise
    out = tmp_path / "gradebook.csv"
    gradebook.write_csv(rows, out, EXERCISES)
    table = read_csv(out)
    assert list(table[0]) == ["file", "notebook", "exercise 01.1", "exercise 01.2", "exercise 01.3",
                              "exercise 02.1", "exercise 02.2", "points", "max_points", "status", "reasons"]
    assert table[0]["exercise 01.1"] == "2" and table[0]["exercise 02.1"] == "" and None not in table[0]


def test_the_journal_keeps_finished_rows_and_skips_a_line_cut_short(tmp_path):
    journal = gradebook.Journal(tmp_path / "g.csv.jsonl")
    journal.add(gradebook.new_row("a.ipynb", "d1"))
    with open(journal.path, "a", encoding="utf-8") as file:
        file.write('{"file": "b.ipynb", "dig')  # a crash in the middle of a write
    assert list(journal.rows()) == ["a.ipynb"]


def test_shards_cover_every_entry_once_and_merge_into_one_row_each(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    for index in range(5):  # unreadable files: graded without starting any kernel
        (folder / f"{index}.ipynb").write_text("not json", encoding="utf-8")
    (folder / "a folder").mkdir()
    os.mkfifo(folder / "a fifo")
    (folder / "dangling").symlink_to(tmp_path / "nowhere")
    outs = [tmp_path / f"shard-{k}.csv" for k in (1, 2, 3)]
    for k, out in enumerate(outs, 1):
        assert grade.main([str(folder), "--out", str(out), "--shard", f"{k}/3", "--checks-only"]) == 0
    shard_rows = [row["file"] for out in outs for row in read_csv(out)]
    assert sorted(shard_rows) == sorted(os.listdir(folder))  # each entry in exactly one shard
    merged = tmp_path / "gradebook.csv"
    assert grade.main(["--merge", *[f"{out}.jsonl" for out in outs], "--out", str(merged)]) == 0
    rows = {row["file"]: row for row in read_csv(merged)}
    assert sorted(rows) == sorted(os.listdir(folder))
    assert rows["a folder"]["status"].startswith("not graded: a folder")
    assert rows["a fifo"]["status"] == "not graded: not a regular file"
    assert rows["dangling"]["status"].startswith("not graded: a link")
    assert all(row["reasons"] for row in rows.values())


def test_a_rerun_grades_only_what_is_new_or_changed(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "a.ipynb").write_text("not json", encoding="utf-8")
    out = tmp_path / "gradebook.csv"
    grade.main([str(folder), "--out", str(out), "--checks-only"])
    (folder / "b.ipynb").write_text("not json either", encoding="utf-8")
    grade.main([str(folder), "--out", str(out), "--checks-only"])
    graded = [json.loads(line)["file"] for line in open(f"{out}.jsonl", encoding="utf-8")]
    assert graded == ["a.ipynb", "b.ipynb"]  # a.ipynb was not graded twice
    (folder / "a.ipynb").write_text("changed", encoding="utf-8")
    grade.main([str(folder), "--out", str(out), "--checks-only"])
    graded = [json.loads(line)["file"] for line in open(f"{out}.jsonl", encoding="utf-8")]
    assert graded == ["a.ipynb", "b.ipynb", "a.ipynb"]
    assert [row["file"] for row in read_csv(out)] == ["a.ipynb", "b.ipynb"]


@pytest.mark.parametrize("option", ["--cell-timeout", "--submission-timeout", "--workers"])
def test_a_limit_of_zero_is_refused(tmp_path, option, capsys):
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path), option, "0"])
    assert "at least 1" in capsys.readouterr().err
