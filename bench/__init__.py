"""Benchmarks. Each module ``bench/<name>.py`` defines ``run() -> str`` returning a Markdown report
in which every figure stands beside a baseline measured in the same run."""
