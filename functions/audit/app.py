"""Audit function: POST /api/audit, GET /api/audits[/{id}[/report]], GET /api/stats, GET /api/health."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from sheetbrain.http import make_resolver
from sheetbrain.http.routes import audits, health, stats
from sheetbrain.observability import logger, metrics, tracer
from sheetbrain.snapstart import prepare

app = make_resolver()
app.include_router(health.router)
app.include_router(stats.router)
app.include_router(audits.router)

# SnapStart (and provisioned concurrency): the first request's imports and models, done in init.
prepare(app, modules=("sheetbrain.engine", "sheetbrain.auditing.ai_review", "boto3", "botocore.exceptions"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
