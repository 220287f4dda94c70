"""The gradebook: one row per file, kept in a journal as each finishes, written out as CSV.

- The journal (``<out>.jsonl``) gets a row the moment a submission is graded, flushed to disk: a crash or a kill
  keeps every finished row, and a rerun skips a file whose journal row matches its name and content (sha256).
- The CSV has fixed columns: file, notebook, one per exercise of the whole course (``01.1`` … ``07.4``), points,
  max_points, status, reasons. Rows never grow extra columns, whatever a submission did.
- Names are made safe: bytes that are not UTF-8 are shown escaped (``\\xff``), control characters likewise, and a
  cell that a spreadsheet would read as a formula (starting with = + - @ or a tab) is prefixed with an apostrophe.
- Every zero says why, in ``reasons``: one ``<exercise>: <why>`` per exercise without full points.
- Merging the journals of several shards (``merge``) keeps one row per file.
"""
import csv
import hashlib
import json
import os
from pathlib import Path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text):
    """``text`` as printable UTF-8: undecodable bytes (surrogate escapes) and control characters escaped."""
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii") for ch in text)


def spreadsheet_safe(value):
    text = safe_text(str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


def file_digest(path, limit):
    """sha256 of the file's bytes, or None if it cannot be read as a regular file of at most ``limit`` bytes."""
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError:
        return None
    return hashlib.sha256(data).hexdigest() if len(data) <= limit else None


def new_row(name, digest=None):
    return {"file": safe_text(name), "digest": digest, "notebook": "", "status": "", "points": 0,
            "max_points": 0, "exercises": {}, "reasons": [], "flags": [], "seconds": {}}


class Journal:
    """Rows as JSON lines, appended and flushed as they come."""

    def __init__(self, path):
        self.path = Path(path)

    def rows(self):
        found = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by a crash: that file is graded again
                    continue
                found[row["file"]] = row
        return found

    def add(self, row):
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(row) + "\n")
            file.flush()
            os.fsync(file.fileno())


def exercise_columns(course_exercises):
    """``course_exercises``: {notebook stem: [exercise key, …]} -> the column keys, e.g. '01.3'."""
    return [f"{stem[:2]}.{key}" for stem, keys in sorted(course_exercises.items()) for key in keys]


def write_csv(rows, out, course_exercises):
    """Write ``rows`` (sorted by file) to ``out`` atomically: a reader never sees half a gradebook."""
    columns = exercise_columns(course_exercises)
    tmp = Path(f"{out}.partial")
    with open(tmp, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "notebook", *[f"exercise {c}" for c in columns], "points", "max_points",
                         "status", "reasons"])
        for row in sorted(rows, key=lambda r: r["file"]):
            prefix = row["notebook"][:2]
            cells = [row["exercises"].get(c.split(".", 1)[1], {}).get("points", "") if c.startswith(prefix + ".")
                     and row["notebook"] else "" for c in columns]
            writer.writerow([spreadsheet_safe(row["file"]), spreadsheet_safe(row["notebook"]), *cells,
                             row["points"], row["max_points"], spreadsheet_safe(row["status"]),
                             spreadsheet_safe("; ".join(row["reasons"] + row["flags"]))])
    os.replace(tmp, out)


def merge(journals, out, course_exercises):
    """One gradebook from several shards' journals; a file graded twice keeps its last row."""
    rows = {}
    for journal in journals:
        rows.update(Journal(journal).rows())
    write_csv(list(rows.values()), out, course_exercises)
    return rows
