"""The floor under bench/cold_start.py's figures: what an API function must import before any
module of ours (psycopg and its pool, pydantic with its first model, Powertools' HTTP resolver
with validation, Logger and Metrics). Measured like a handler module, in the same runs."""

import psycopg
import psycopg_pool
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel, Field


class _First(BaseModel):  # pydantic builds its schema machinery for the first model
    value: int = Field(default=0, ge=0)


logger = Logger(service="floor")
metrics = Metrics(namespace="Floor", service="floor")
app = APIGatewayHttpResolver(enable_validation=True)
POOL = psycopg_pool.ConnectionPool
CONNECTION = psycopg.Connection
