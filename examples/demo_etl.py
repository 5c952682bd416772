"""A small ETL flow: extract rows (retried on a flaky first attempt), transform them in
parallel with map (each square cached by its input for an hour), load a summary. `python examples/demo_etl.py` runs it on the embedded
orchestrator; `make demo` deploys it and runs it through the Executor RPC."""

from datetime import timedelta

from executor import flow, get_run_logger, task
from executor.tasks import task_input_hash

_attempts = {"extract": 0}


@task(retries=2, retry_delay_seconds=0.1)
def extract(rows: int) -> list[int]:
    _attempts["extract"] += 1
    if _attempts["extract"] == 1:
        raise ConnectionError("source not ready yet (this first attempt fails on purpose)")
    return list(range(1, rows + 1))


@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
def transform(value: int) -> int:
    return value * value


@task
def load(values: list[int]) -> dict:
    get_run_logger().info("loading %d values", len(values))
    return {"rows": len(values), "sum_of_squares": sum(values)}


@flow(name="demo-etl", persist_result=True)
def etl(rows: int = 5) -> dict:
    raw = extract(rows)
    squares = transform.map(raw)
    return load([s.result() for s in squares])


if __name__ == "__main__":
    print(etl(5))
