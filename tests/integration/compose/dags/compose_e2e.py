"""A DAG whose tasks hand data to each other through XCom; shipped into the compose test's dags folder.

`transform` sleeps for the run's `sleep_seconds` conf on its first try, so a test can crash the
scheduler while a task of that run is running.
"""

from __future__ import annotations

import time
from datetime import timedelta

from airflow.sdk import dag, get_current_context, task


@dag(
    dag_id="compose_e2e",
    schedule=None,
    catchup=False,
    tags=["e2e"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=5)},
)
def compose_e2e():
    @task
    def produce() -> list[int]:
        return [1, 2, 3, 4]

    @task
    def transform(numbers: list[int]) -> list[int]:
        context = get_current_context()
        # Only the first try sleeps: a retry after a crash should not wait again.
        if context["ti"].try_number == 1:
            time.sleep(float(context["dag_run"].conf.get("sleep_seconds", 0)))
        return [n * n for n in numbers]

    @task
    def summarise(squares: list[int]) -> dict:
        return {"sum": sum(squares), "count": len(squares)}

    summarise(transform(produce()))


compose_e2e()
