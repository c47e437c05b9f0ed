"""Migration function: the CloudFormation custom resource that applies sql/ on every deploy."""

from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sheetbrain.deploy import custom_resource
from sheetbrain.deploy.migrate import PHYSICAL_ID, login_specs, migrate
from sheetbrain.observability import logger

# The sql/ files ship with this function (functions/migrate/sql links to the repository's).
SQL_DIR = Path(__file__).parent / "sql"


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    # The logins are read inside the work, so a malformed property is answered FAILED too.
    custom_resource.handle(
        event,
        context,
        lambda: migrate(SQL_DIR, login_specs(event.get("ResourceProperties"))),
        physical_id=PHYSICAL_ID,
    )
