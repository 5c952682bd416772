"""The benchmark harness behind `python -m benchmarks.run` (benchmarks/README.md).

catalog      where things are; each workload's size, unit and title
processes    one child process: a clean environment, wait4, peak RSS of its session
engines      the engines under test and the environment each workload process gets
baseline     the code at a git ref, in a worktree under .bench/, importable next to ours
workload_run one workload run on one engine (with its own orchestrator service); the floor
summary      medians over the repetitions
tables       the tables; targets: the performance targets checked; report: a results document as text
"""
