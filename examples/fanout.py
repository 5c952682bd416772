"""Fan-out with map: fetch many pages concurrently, some of them failing, and keep going with
what succeeded (allow_failure), under a tag concurrency limit of 4 at a time."""

from executor import allow_failure, flow, get_run_logger, task
from executor.client import get_client


@task(tags=["pages"], retries=1, retry_delay_seconds=0)
def fetch(page: int) -> dict:
    if page % 7 == 6:
        raise ValueError(f"page {page} is gone")
    return {"page": page, "words": 100 + page}


@task
def summarise(pages: list) -> dict:
    found = [p for p in pages if isinstance(p, dict)]
    return {"pages": len(found), "missing": len(pages) - len(found), "words": sum(p["words"] for p in found)}


@flow(name="fan-out")
def crawl(pages: int = 20) -> dict:
    fetched = fetch.map(range(pages))
    summary = summarise(allow_failure(fetched))
    get_run_logger().info("crawled %s", summary)
    return summary


if __name__ == "__main__":
    get_client().create_concurrency_limit("pages", 4)
    print(crawl(20))
