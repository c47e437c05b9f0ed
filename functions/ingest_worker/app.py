"""Ingest worker: SQS batches (inline overflow, uploads' S3 events, the dead-letter queue) with
partial batch responses: a record that fails comes back alone."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from sheetbrain.observability import logger, metrics, tracer
from sheetbrain.policies import worker

# Every record failed is a batch of failures to return, not an error of the invocation.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> str:
    return worker.handle_message(
        record.body,
        source_arn=record.event_source_arn,
        receipt_handle=record.receipt_handle,
        deadline=worker.deadline_of(lambda_context.get_remaining_time_in_millis()),
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
