"""Ingest function: POST /api/ingest, GET/DELETE /api/policies[/{id}]."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from sheetbrain.http import make_resolver
from sheetbrain.http.routes import policies
from sheetbrain.observability import logger, metrics, tracer
from sheetbrain.snapstart import prepare

app = make_resolver(multipart_paths=["/api/ingest"])
app.include_router(policies.router)

# SnapStart (and provisioned concurrency): the first request's imports and models, done in init.
prepare(
    app,
    modules=(
        "sheetbrain.policies.chunking",
        "sheetbrain.policies.clause_map",
        "sheetbrain.policies.extract",
        "sheetbrain.policies.profiles",
        "pypdf",
        "docx",
        "boto3",
        "botocore.exceptions",
    ),
)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
