"""template.yaml carries every route of the contract, protected as the contract says, and gives
each function only the secrets it uses."""

import json
from typing import Any

from sheetbrain_dev.template import load_template

CONTRACT_ROUTES = {
    ("GET", "/api/health"),
    ("POST", "/api/webhooks/clerk"),
    ("POST", "/api/webhooks/stripe"),
    ("POST", "/api/audit"),
    ("GET", "/api/audits"),
    ("GET", "/api/audits/{id}"),
    ("GET", "/api/audits/{id}/report"),
    ("POST", "/api/ingest"),
    ("POST", "/api/policies/uploads"),
    ("GET", "/api/policies"),
    ("GET", "/api/policies/{id}"),
    ("DELETE", "/api/policies/{id}"),
    ("GET", "/api/billing"),
    ("POST", "/api/billing/checkout"),
    ("POST", "/api/billing/portal"),
    ("GET", "/api/usage"),
    ("GET", "/api/stats"),
    ("GET", "/api/notifications/vapid-public-key"),
    ("POST", "/api/notifications/subscriptions"),
    ("DELETE", "/api/notifications/subscriptions/{id}"),
    ("GET", "/api/notifications/thresholds"),
    ("PUT", "/api/notifications/thresholds"),
    ("GET", "/api/notifications"),
}
PUBLIC = {"/api/health", "/api/webhooks/clerk", "/api/webhooks/stripe"}


def test_every_contract_route_is_in_the_template_with_the_right_authorizer() -> None:
    template = load_template()
    routes = {(r.method, r.path): r for r in template.routes}
    assert set(routes) == CONTRACT_ROUTES
    for (_, path), route in routes.items():
        assert route.authorized == (path not in PUBLIC), path


def test_literal_routes_and_path_parameters_resolve() -> None:
    template = load_template()
    found = template.find_route("GET", "/api/audits/abc-123")
    assert found is not None
    route, params = found
    assert route.path == "/api/audits/{id}" and params == {"id": "abc-123"}
    assert template.find_route("GET", "/api/nope") is None
    assert template.find_route("PUT", "/api/health") is None


def test_cleanup_function_has_one_schedule_per_task() -> None:
    schedules = load_template().functions["CleanupFunction"].schedules
    inputs = sorted(s["Input"] for s in schedules.values())
    assert inputs == sorted(
        f'{{"task": "{t}"}}' for t in ("cleanup", "retention", "rollup", "alerts", "purge", "reembed")
    )


# Which secrets each function may read: only those of the paths it runs. With DatabaseMode=create
# the three database parameters stand for the stack's own secrets (STACK_SECRETS); a grant that
# exists only then is written "<secret> (CreateDatabase)".
SECRETS_BY_FUNCTION = {
    "AuditFunction": {"DatabaseSecretArn"},
    "IngestFunction": {"DatabaseSecretArn"},
    # The worker processes jobs of every organization: the system login.
    "IngestWorkerFunction": {"SystemDatabaseSecretArn"},
    "BillingFunction": {"DatabaseSecretArn", "StripeApiKeySecretArn", "VapidSecretArn"},
    "WebhookFunction": {"SystemDatabaseSecretArn", "ClerkWebhookSecretArn", "StripeWebhookSecretArn"},
    "CleanupFunction": {"SystemDatabaseSecretArn", "VapidSecretArn"},
    # The owner: DDL, on deploy only; with the stack's database, the logins' passwords it sets.
    "MigrationFunction": {
        "MigrationDatabaseSecretArn",
        "AppLoginSecret (CreateDatabase)",
        "SystemLoginSecret (CreateDatabase)",
    },
}
STACK_SECRETS = {
    "DatabaseSecretArn": {"Ref": "AppLoginSecret"},
    "SystemDatabaseSecretArn": {"Ref": "SystemLoginSecret"},
    "MigrationDatabaseSecretArn": {"Fn::GetAtt": "DatabaseCluster.MasterUserSecret.SecretArn"},
}


def _secret_name(value: Any) -> str:
    """The parameter a secret reference stands for: a Ref of it, or the If that picks the
    stack's own secret of that purpose with DatabaseMode=create; anything else as itself."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(value["Ref"])
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        condition, created, brought = value["Fn::If"]
        name = brought.get("Ref") if isinstance(brought, dict) else None
        if condition == "CreateDatabase" and name in STACK_SECRETS and STACK_SECRETS[name] == created:
            return str(name)
    return json.dumps(value)


def _secret_grants(policies: tuple[Any, ...]) -> set[str]:
    """The stack parameters whose secrets a function's policies let it read; a grant written in
    any other form (a raw statement naming secretsmanager, a wildcard) is returned as itself."""
    grants: set[str] = set()
    for policy in policies:
        if isinstance(policy, dict) and set(policy) == {"Fn::If"}:
            condition, policy_if, otherwise = policy["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
            grants |= {f"{grant} ({condition})" for grant in _secret_grants((policy_if,))}
        elif isinstance(policy, dict) and "AWSSecretsManagerGetSecretValuePolicy" in policy:
            grants.add(_secret_name(policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]))
        elif "secretsmanager" in json.dumps(policy).lower():
            grants.add(json.dumps(policy))
    return grants


def test_each_function_may_read_only_the_secrets_it_uses() -> None:
    functions = load_template().functions
    # Given each function's IAM policies, as the template writes them
    grants = {name: _secret_grants(function.policies) for name, function in functions.items()}
    # Then each names exactly its own secrets: the billing function never the signing secrets,
    # the webhook function never the Stripe API key
    assert grants == SECRETS_BY_FUNCTION


def test_each_function_is_told_of_exactly_the_secrets_it_may_read() -> None:
    for name, function in load_template().functions.items():
        # Given the secrets the environment names for the function
        named = {
            _secret_name(value)
            for key, value in function.environment.items()
            if key.endswith("_SECRET_ARN") or key.endswith("_SECRETS_ARN")
        }
        # Then they are the secrets its policies grant for its own use, no more and no fewer
        assert named == {grant for grant in SECRETS_BY_FUNCTION[name] if "(" not in grant}, name


def test_the_http_api_functions_publish_versions_with_snapstart_and_the_api_invokes_the_alias() -> None:
    template = load_template()
    # Given the functions that serve the HTTP API's routes
    api_functions = {route.function for route in template.routes}
    assert api_functions == {"AuditFunction", "IngestFunction", "BillingFunction", "WebhookFunction"}
    for name in api_functions:
        properties = template.functions[name].properties
        # Then each publishes a version on deploy behind the alias "live" (SAM points the
        # function's HttpApi integrations and their permissions at the alias)
        assert properties["AutoPublishAlias"] == "live", name
        # And snapshots it unless the stack's SnapStart parameter says off
        assert properties["SnapStart"] == {"ApplyOn": {"Fn::If": ["UseSnapStart", "PublishedVersions", "None"]}}, name


def test_each_api_instance_holds_one_connection_and_each_function_may_reserve_its_concurrency() -> None:
    template = load_template()
    for name in ("AuditFunction", "IngestFunction", "BillingFunction", "WebhookFunction"):
        function = template.functions[name]
        # Then its pool holds one connection (an instance serves one request at a time)
        assert function.environment["DB_POOL_MAX_SIZE"] == "1", name
        # And its concurrency, which is then its connections, is a stack parameter
        parameter = name.replace("Function", "ReservedConcurrency")
        reserved = name.replace("Function", "Reserved")
        assert function.properties["ReservedConcurrentExecutions"] == {
            "Fn::If": [reserved, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]
        }, name


ALARM_TOPIC = {"Ref": "AlarmTopicArn"}


def _alarm_conditions_include_has_alarms(template_conditions: dict[str, Any], condition: str) -> bool:
    """Whether the named condition is HasAlarms, or an And of conditions one of which is."""
    if condition == "HasAlarms":
        return True
    definition = template_conditions.get(condition, {})
    return any(
        isinstance(part, dict) and _alarm_conditions_include_has_alarms(template_conditions, part.get("Condition", ""))
        for part in definition.get("Fn::And", [])
    )


def _lambda_alarms(alarms: dict[str, dict[str, Any]], metric: str) -> dict[str, dict[str, Any]]:
    """The Lambda alarms on ``metric``, by the function (logical id) whose FunctionName they watch."""
    found: dict[str, dict[str, Any]] = {}
    for alarm in alarms.values():
        properties = alarm["Properties"]
        if properties.get("Namespace") == "AWS/Lambda" and properties.get("MetricName") == metric:
            (dimension,) = properties["Dimensions"]
            assert dimension["Name"] == "FunctionName"
            found[dimension["Value"]["Ref"]] = properties
    return found


def test_every_function_has_an_errors_and_a_throttles_alarm_sent_to_the_topic() -> None:
    template = load_template()
    alarms = template.resources_of_type("AWS::CloudWatch::Alarm")
    # Given the template's functions, all seven of them
    assert set(template.functions) == {
        "AuditFunction",
        "IngestFunction",
        "BillingFunction",
        "WebhookFunction",
        "CleanupFunction",
        "IngestWorkerFunction",
        "MigrationFunction",
    }
    for metric in ("Errors", "Throttles"):
        by_function = _lambda_alarms(alarms, metric)
        # Then each function has an alarm on its own metric, and no alarm watches anything else
        assert set(by_function) == set(template.functions), metric
        for name, properties in by_function.items():
            # When one invocation in five minutes fails (or is throttled)
            assert (properties["Statistic"], properties["Period"], properties["EvaluationPeriods"]) == ("Sum", 300, 1)
            assert (properties["Threshold"], properties["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
            # Then the topic hears of it, and again when it clears
            assert properties["AlarmActions"] == [ALARM_TOPIC], name
            assert properties["OKActions"] == [ALARM_TOPIC], name


def test_the_dead_letter_queue_alarm_counts_visible_and_in_flight_records() -> None:
    alarm = load_template().resources_of_type("AWS::CloudWatch::Alarm")["IngestDeadLetterDepthAlarm"]["Properties"]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    # Given the alarm's metrics: both counts of the dead-letter queue, summed
    assert metrics["depth"]["Expression"] == "visible + inflight"
    for metric_id, metric_name in (
        ("visible", "ApproximateNumberOfMessagesVisible"),
        ("inflight", "ApproximateNumberOfMessagesNotVisible"),
    ):
        metric = metrics[metric_id]["MetricStat"]["Metric"]
        assert metric["MetricName"] == metric_name
        assert metric["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": "IngestDeadLetterQueue.QueueName"}}
        ]
    # Then one record left there for three 5-minute periods in a row notifies the topic
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 3, 3)
    assert alarm["AlarmActions"] == [ALARM_TOPIC] and alarm["OKActions"] == [ALARM_TOPIC]


def test_no_alarm_exists_without_a_topic_and_every_alarm_notifies_it() -> None:
    template = load_template()
    # Given the template's parameter: empty by default
    assert template.document["Parameters"]["AlarmTopicArn"]["Default"] == ""
    assert template.document["Conditions"]["HasAlarms"] == {"Fn::Not": [{"Fn::Equals": [ALARM_TOPIC, ""]}]}
    conditions = template.document["Conditions"]
    for name, alarm in template.resources_of_type("AWS::CloudWatch::Alarm").items():
        # Then every alarm exists only with a topic, and notifies it (alarm and recovery)
        assert _alarm_conditions_include_has_alarms(conditions, alarm.get("Condition", "")), name
        assert alarm["Properties"]["AlarmActions"] == [ALARM_TOPIC], name
        assert alarm["Properties"]["OKActions"] == [ALARM_TOPIC], name


def test_the_optional_database_is_aurora_serverless_v2_postgresql_16_behind_the_proxy_only() -> None:
    template = load_template()
    resources, parameters = template.document["Resources"], template.document["Parameters"]
    cluster, instance = resources["DatabaseCluster"], resources["DatabaseInstance"]
    # Given DatabaseMode (bring by default: an update of an existing stack makes no database)
    assert parameters["DatabaseMode"] == {
        "Type": "String",
        "Default": "bring",
        "AllowedValues": ["bring", "create"],
        "Description": parameters["DatabaseMode"]["Description"],
    }
    assert template.document["Conditions"]["CreateDatabase"] == {"Fn::Equals": [{"Ref": "DatabaseMode"}, "create"]}
    # Then with create: Aurora PostgreSQL 16, serverless v2 between the ACU parameters (0 allowed:
    # auto-pause), its master secret managed by RDS, encrypted, kept as a snapshot when deleted
    properties = cluster["Properties"]
    assert (cluster["Condition"], cluster["DeletionPolicy"]) == ("CreateDatabase", "Snapshot")
    assert (properties["Engine"], properties["EngineVersion"]) == (
        "aurora-postgresql",
        {"Ref": "DatabaseEngineVersion"},
    )
    assert parameters["DatabaseEngineVersion"]["Default"] == "16.6"
    assert properties["ManageMasterUserPassword"] is True and "MasterUserPassword" not in properties
    assert properties["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": {"Ref": "DatabaseMinCapacity"},
        "MaxCapacity": {"Ref": "DatabaseMaxCapacity"},
    }
    assert (parameters["DatabaseMinCapacity"]["MinValue"], parameters["DatabaseMinCapacity"]["Default"]) == (0, 0.5)
    assert properties["StorageEncrypted"] is True and properties["DeletionProtection"] is True
    assert instance["Properties"]["DBInstanceClass"] == "db.serverless"
    assert instance["Properties"]["PubliclyAccessible"] is False
    # And only the proxy reaches the database, and only the functions reach the proxy
    assert properties["VpcSecurityGroupIds"] == [{"Ref": "DatabaseSecurityGroup"}]
    database_in = resources["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    proxy_in = resources["ProxySecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert [(r["FromPort"], r["SourceSecurityGroupId"]) for r in database_in] == [(5432, {"Ref": "ProxySecurityGroup"})]
    assert [(r["FromPort"], r["SourceSecurityGroupId"]) for r in proxy_in] == [(5432, {"Ref": "FunctionSecurityGroup"})]


def test_every_function_connects_through_the_proxy_with_tls_and_scram() -> None:
    template = load_template()
    resources = template.document["Resources"]
    proxy = resources["DatabaseProxy"]
    # Given the proxy: with the stack's database, or in front of one brought
    assert proxy["Condition"] == "UseProxy"
    assert template.document["Conditions"]["UseProxy"] == {
        "Fn::Or": [{"Condition": "CreateDatabase"}, {"Condition": "ProxyForBrought"}]
    }
    # Then it requires TLS, and checks every client's password with SCRAM
    assert proxy["Properties"]["RequireTLS"] is True and proxy["Properties"]["EngineFamily"] == "POSTGRESQL"
    created, brought = proxy["Properties"]["Auth"]["Fn::If"][1:]
    for auth in created + brought:
        assert (auth["AuthScheme"], auth["IAMAuth"], auth["ClientPasswordAuthType"]) == (
            "SECRETS",
            "DISABLED",
            "POSTGRES_SCRAM_SHA_256",
        )
    # And knows the three logins of each mode, the ones the functions are given
    assert [
        _secret_name({"Fn::If": ["CreateDatabase", c["SecretArn"], b["SecretArn"]]})
        for c, b in zip(created, brought, strict=True)
    ] == [
        "DatabaseSecretArn",
        "SystemDatabaseSecretArn",
        "MigrationDatabaseSecretArn",
    ]
    for name, function in template.functions.items():
        # And every function connects to the proxy's endpoint on 5432, verifying its certificate
        # against the public roots (DB_SSLROOTCERT system; verify-full is the AWS default)
        assert function.environment["DATABASE_HOST"] == {
            "Fn::If": ["UseProxy", {"Fn::GetAtt": "DatabaseProxy.Endpoint"}, ""]
        }, name
        assert function.environment["DATABASE_PORT"] == {"Fn::If": ["UseProxy", "5432", ""]}, name
        assert function.environment["DB_SSLROOTCERT"] == {"Ref": "DatabaseSslRootCert"}, name
    assert template.document["Parameters"]["DatabaseSslRootCert"]["Default"] == "system"
    # And a request waits at most 5 s for a database connection, which the proxy keeps to 90%
    for group in ("ProxyTargetGroupCreated", "ProxyTargetGroupBrought"):
        assert resources[group]["Properties"]["ConnectionPoolConfigurationInfo"] == {
            "MaxConnectionsPercent": 90,
            "MaxIdleConnectionsPercent": 50,
            "ConnectionBorrowTimeout": 5,
        }
    assert resources["ProxyTargetGroupCreated"]["DependsOn"] == "DatabaseInstance"


def test_the_migration_resource_makes_the_stacks_two_logins_after_the_proxy_target_exists() -> None:
    properties = load_template().document["Resources"]["DatabaseMigrations"]["Properties"]
    assert properties["Logins"] == {
        "Fn::If": [
            "CreateDatabase",
            [
                {"Group": "sheetbrain_app", "SecretArn": {"Ref": "AppLoginSecret"}},
                {"Group": "sheetbrain_system", "SecretArn": {"Ref": "SystemLoginSecret"}},
            ],
            [],
        ]
    }
    assert properties["ProxyTarget"] == {
        "Fn::If": [
            "CreateDatabase",
            {"Ref": "ProxyTargetGroupCreated"},
            {"Fn::If": ["ProxyForBrought", {"Ref": "ProxyTargetGroupBrought"}, ""]},
        ]
    }


def test_the_proxy_and_database_alarms_watch_their_own_metrics() -> None:
    alarms = load_template().resources_of_type("AWS::CloudWatch::Alarm")
    watched = {
        name: (
            alarm["Condition"],
            alarm["Properties"]["Namespace"],
            alarm["Properties"]["MetricName"],
            alarm["Properties"]["Dimensions"],
        )
        for name, alarm in alarms.items()
        if alarm["Properties"].get("Namespace") == "AWS/RDS"
    }
    assert watched == {
        "ProxyClientConnectionsAlarm": (
            "HasProxyAlarms",
            "AWS/RDS",
            "ClientConnections",
            [{"Name": "ProxyName", "Value": {"Ref": "DatabaseProxy"}}],
        ),
        "DatabaseCpuAlarm": (
            "HasDatabaseAlarms",
            "AWS/RDS",
            "CPUUtilization",
            [{"Name": "DBClusterIdentifier", "Value": {"Ref": "DatabaseCluster"}}],
        ),
        "DatabaseCapacityAlarm": (
            "HasDatabaseAlarms",
            "AWS/RDS",
            "ACUUtilization",
            [{"Name": "DBClusterIdentifier", "Value": {"Ref": "DatabaseCluster"}}],
        ),
    }
