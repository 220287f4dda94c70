"""How the course is being run: two switches read from the environment, named in one place."""
import os

FAST_ENV = "COURSE_FAST"  # 1: tiny settings so CI runs every notebook in seconds
STRICT_ENV = "COURSE_STRICT"  # 1: a failed or unfinished exercise raises (grading, and CI on solutions/)


def _flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def fast_mode():
    return _flag(FAST_ENV)


def strict_mode():
    return _flag(STRICT_ENV)
