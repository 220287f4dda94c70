"""The course's own tooling, apart from `utils/` (what a learner's kernel imports): build, release, grade, launch,
the benchmarks and the leaderboard. Run each as `python -m tools.<name>` from the course's root folder."""
