"""Cleanup function: EventBridge schedules pass {"task": "<name>"}; returns the task's summary."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sheetbrain.maintenance.tasks import run_task
from sheetbrain.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_task(str(event.get("task", "")))
