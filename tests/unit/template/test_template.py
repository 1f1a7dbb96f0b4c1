"""template.yaml's promises, read through local.template.load_template() (the loader the emulator uses).

cfn-lint and `sam validate --lint` check that the template is valid CloudFormation; these tests check that it
is the application we mean: retries that cannot overlap, failures that end somewhere visible, storage that is
private and encrypted, and an HTTP API whose routes are exactly the ones the query function serves.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from local.template import PROJECT_ROOT, load_template, resources_of_type

QUERY_API_APP = PROJECT_ROOT / "functions" / "query_api" / "app.py"
# CloudFront managed policies (the same ids in every account).
MANAGED_CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
MANAGED_ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = template["Resources"]
    return resources


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of_type("AWS::Serverless::Function", template)


def _function_setting(template: dict[str, Any], function: dict[str, Any], name: str) -> Any:
    """A function property as deployed: its own value, else the one from Globals."""
    return function["Properties"].get(name, template["Globals"]["Function"].get(name))


def _events(function: dict[str, Any], event_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, event in function["Properties"].get("Events", {}).items():
        if event["Type"] == event_type:
            yield name, event["Properties"]


def _get_att_target(value: Any) -> str:
    """The logical id in !GetAtt Resource.Attribute."""
    assert isinstance(value, dict), value
    assert "Fn::GetAtt" in value, value
    return str(value["Fn::GetAtt"][0])


def _sqs_consumers(template: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(function logical id, queue logical id, event properties) for every SQS event source."""
    return [
        (function_id, _get_att_target(event["Queue"]), event)
        for function_id, function in _functions(template).items()
        for _, event in _events(function, "SQS")
    ]


# ------------------------------------------------------------------------------------------------ queues
def test_every_queue_hides_a_message_for_at_least_six_times_its_consumers_timeout(
    template: dict[str, Any],
) -> None:
    # Given every SQS event source and the function it feeds
    consumers = _sqs_consumers(template)
    assert {queue for _, queue, _ in consumers} == {"IngestQueue", "InferenceQueue", "ExportQueue"}

    for function_id, queue_id, event in consumers:
        # When the function's timeout (own or global) and any batching window are known
        timeout = _function_setting(template, _functions(template)[function_id], "Timeout")
        batching_window = event.get("MaximumBatchingWindowInSeconds", 0)
        visibility = _resources(template)[queue_id]["Properties"]["VisibilityTimeout"]

        # Then a message cannot reappear while a retried invocation may still be working on it
        assert visibility >= 6 * timeout + batching_window, (queue_id, function_id, visibility, timeout)


def _parameter_of(template: dict[str, Any], value: Any) -> dict[str, Any]:
    """The parameter a `!Ref Parameter` names."""
    assert isinstance(value, dict), value
    assert set(value) == {"Ref"}, value
    parameter: dict[str, Any] = template["Parameters"][value["Ref"]]
    return parameter


def test_every_consumed_queue_dead_letters_after_a_bounded_number_of_receives(
    template: dict[str, Any],
) -> None:
    for _, queue_id, _ in _sqs_consumers(template):
        queue = _resources(template)[queue_id]["Properties"]
        redrive = queue["RedrivePolicy"]
        dead_letter_id = _get_att_target(redrive["deadLetterTargetArn"])
        dead_letter = _resources(template)[dead_letter_id]
        max_receive_count = _parameter_of(template, redrive["maxReceiveCount"])

        # Given any value the parameter allows, Then the count is bounded
        assert max_receive_count["Type"] == "Number", queue_id
        assert 1 <= max_receive_count["MinValue"] <= max_receive_count["Default"], queue_id
        assert max_receive_count["Default"] <= max_receive_count["MaxValue"] <= 10, queue_id
        assert dead_letter["Type"] == "AWS::SQS::Queue"
        assert "RedrivePolicy" not in dead_letter["Properties"]
        # A standard queue's DLQ keeps the original enqueue time: it must outlive the source's retention.
        assert dead_letter["Properties"]["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"], queue_id


def test_every_consumer_is_told_its_queues_max_receive_count(template: dict[str, Any]) -> None:
    # Given each SQS event source, its queue's redrive policy and the function's own environment
    consumers = _sqs_consumers(template)
    for function_id, queue_id, _ in consumers:
        redrive = _resources(template)[queue_id]["Properties"]["RedrivePolicy"]
        environment = _functions(template)[function_id]["Properties"]["Environment"]["Variables"]

        # Then the function's MAX_RECEIVE_COUNT is the very value the queue dead-letters at
        assert environment["MAX_RECEIVE_COUNT"] == redrive["maxReceiveCount"], function_id
    # And each queue has a parameter of its own, at the defaults the documentation promises
    assert {
        queue_id: _resources(template)[queue_id]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
        for _, queue_id, _ in consumers
    } == {
        "IngestQueue": {"Ref": "IngestMaxReceiveCount"},
        "InferenceQueue": {"Ref": "InferenceMaxReceiveCount"},
        "ExportQueue": {"Ref": "ExportMaxReceiveCount"},
    }
    assert template["Parameters"]["IngestMaxReceiveCount"]["Default"] == 3
    assert template["Parameters"]["InferenceMaxReceiveCount"]["Default"] == 5
    assert template["Parameters"]["ExportMaxReceiveCount"]["Default"] == 3
    # And it is not a global that one function could silently inherit from another's queue
    assert "MAX_RECEIVE_COUNT" not in template["Globals"]["Function"]["Environment"]["Variables"]


def test_every_queue_is_encrypted(template: dict[str, Any]) -> None:
    for queue_id, queue in resources_of_type("AWS::SQS::Queue", template).items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, queue_id


def test_sqs_event_sources_report_batch_item_failures(template: dict[str, Any]) -> None:
    for function_id, queue_id, event in _sqs_consumers(template):
        assert "ReportBatchItemFailures" in event.get("FunctionResponseTypes", []), (function_id, queue_id)


def test_inference_never_runs_more_copies_than_the_endpoint_serves_at_once(template: dict[str, Any]) -> None:
    (chunk_ready,) = [
        event for function_id, _, event in _sqs_consumers(template) if function_id == "InferenceFunction"
    ]
    endpoint_config = _resources(template)["SentimentEndpointConfig"]["Properties"]
    (variant,) = endpoint_config["ProductionVariants"]

    assert chunk_ready["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "EndpointMaxConcurrency"}
    assert variant["ServerlessConfig"]["MaxConcurrency"] == {"Ref": "EndpointMaxConcurrency"}


# ------------------------------------------------------------------------------------------------ storage
def test_the_bucket_is_encrypted_private_versioned_and_tls_only(template: dict[str, Any]) -> None:
    bucket = _resources(template)["ReviewsBucket"]
    properties = bucket["Properties"]

    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["DeletionPolicy"] == "Retain"

    (policy,) = [
        policy["Properties"]
        for policy in resources_of_type("AWS::S3::BucketPolicy", template).values()
        if policy["Properties"]["Bucket"] == {"Ref": "ReviewsBucket"}
    ]
    (deny_plain_http,) = [
        statement
        for statement in policy["PolicyDocument"]["Statement"]
        if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert deny_plain_http["Effect"] == "Deny"
    assert deny_plain_http["Principal"] == "*"
    assert deny_plain_http["Action"] == "s3:*"
    assert len(deny_plain_http["Resource"]) == 2  # the bucket and its objects


def test_only_uploads_under_incoming_notify_the_ingest_queue(template: dict[str, Any]) -> None:
    notifications = _resources(template)["ReviewsBucket"]["Properties"]["NotificationConfiguration"]
    (queue_notification,) = notifications["QueueConfigurations"]
    rules = queue_notification["Filter"]["S3Key"]["Rules"]

    assert queue_notification["Event"].startswith("s3:ObjectCreated:")
    assert _get_att_target(queue_notification["Queue"]) == "IngestQueue"
    assert rules == [{"Name": "prefix", "Value": "incoming/"}]
    # And the prefix the functions are told is the same one
    assert template["Globals"]["Function"]["Environment"]["Variables"]["INCOMING_PREFIX"] == "incoming/"


def test_the_table_is_on_demand_encrypted_and_point_in_time_recoverable(template: dict[str, Any]) -> None:
    table = _resources(template)["ReviewsTable"]
    properties = table["Properties"]

    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Retain"


# ------------------------------------------------------------------------------------------------ functions
def test_every_function_runs_python_313_with_the_pipeline_layer(template: dict[str, Any]) -> None:
    functions = _functions(template)
    assert set(functions) == {
        "PreprocessFunction",
        "InferenceFunction",
        "QueryApiFunction",
        "ExportFunction",
        "DeadLetterWatcherFunction",
    }

    for function_id, function in functions.items():
        assert _function_setting(template, function, "Runtime") == "python3.13", function_id
        assert _function_setting(template, function, "Handler") == "app.lambda_handler", function_id
        assert {"Ref": "ReviewPipelineLayer"} in _function_setting(template, function, "Layers"), function_id
        code_uri = function["Properties"]["CodeUri"]
        assert code_uri.startswith("functions/"), function_id

    layer = _resources(template)["ReviewPipelineLayer"]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    # The layer is built for the architecture the functions run on.
    assert layer["Properties"]["CompatibleArchitectures"] == template["Globals"]["Function"]["Architectures"]
    assert layer["Metadata"]["BuildArchitecture"] == template["Globals"]["Function"]["Architectures"][0]


def test_every_function_logs_to_its_own_group_with_the_configured_retention(template: dict[str, Any]) -> None:
    log_groups = resources_of_type("AWS::Logs::LogGroup", template)
    used = []
    for function_id, function in _functions(template).items():
        log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        used.append(log_group_id)
        assert log_groups[log_group_id]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}, (
            function_id
        )
    assert len(set(used)) == len(used)


def test_the_http_api_writes_access_logs_to_a_group_with_retention(template: dict[str, Any]) -> None:
    settings = _resources(template)["HttpApi"]["Properties"]["AccessLogSettings"]
    log_group = _resources(template)[_get_att_target(settings["DestinationArn"])]

    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert "$context.requestId" in settings["Format"]


def test_policy_templates_name_only_our_own_resources(template: dict[str, Any]) -> None:
    ours = set(_resources(template))
    for function_id, function in _functions(template).items():
        for policy in function["Properties"].get("Policies", []):
            assert isinstance(policy, dict), f"{function_id}: managed policy {policy} is not scoped"
            for name, arguments in policy.items():
                if name == "Statement":
                    for statement in arguments:
                        assert statement["Resource"] != "*", (function_id, statement)
                    continue
                (argument,) = arguments.values()
                (function_name, reference) = next(iter(argument.items()))
                target = reference if function_name == "Ref" else reference[0]
                assert target in ours, (function_id, name, argument)


# ------------------------------------------------------------------------------------------------ alarms
def _alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [alarm["Properties"] for alarm in resources_of_type("AWS::CloudWatch::Alarm", template).values()]


def test_a_message_in_any_dead_letter_queue_raises_an_alarm(template: dict[str, Any]) -> None:
    for dead_letter_id in ("IngestDeadLetterQueue", "InferenceDeadLetterQueue", "ExportDeadLetterQueue"):
        (alarm,) = [
            alarm
            for alarm in _alarms(template)
            if alarm.get("Dimensions")
            == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_id, "QueueName"]}}]
        ]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_every_function_has_an_errors_alarm(template: dict[str, Any]) -> None:
    alarmed = {
        alarm["Dimensions"][0]["Value"]["Ref"]
        for alarm in _alarms(template)
        if alarm.get("Namespace") == "AWS/Lambda" and alarm["MetricName"] == "Errors"
    }
    assert alarmed == set(_functions(template))


def test_the_alarm_email_is_subscribed_only_when_given(template: dict[str, Any]) -> None:
    (subscription,) = resources_of_type("AWS::SNS::Subscription", template).values()

    assert subscription["Condition"] == "HasAlarmEmail"
    assert template["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""


# ------------------------------------------------------------------------------------------------ model
def test_creating_an_endpoint_requires_model_data(template: dict[str, Any]) -> None:
    rule = template["Rules"]["ModelDataUrlNeededToCreateEndpoint"]

    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "ExistingEndpointName"}, ""]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ModelDataUrl"}, ""]}]}
    for model_resource in ("SentimentModel", "SentimentEndpointConfig", "SentimentEndpoint"):
        assert _resources(template)[model_resource]["Condition"] == "CreateEndpoint"


# ------------------------------------------------------------------------------------------------ edge
def _distribution(template: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = _resources(template)["ApiDistribution"]["Properties"]["DistributionConfig"]
    return config


def test_cloudfront_redirects_to_https_and_forwards_everything_but_host(template: dict[str, Any]) -> None:
    config = _distribution(template)
    # The API's behaviours; the dashboard's static files have their own (test_dashboard_hosting.py).
    (origin,) = [o for o in config["Origins"] if "CustomOriginConfig" in o]
    behaviours = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
    api_behaviours = [b for b in behaviours if b["TargetOriginId"] == origin["Id"]]

    assert config["DefaultCacheBehavior"] in api_behaviours
    for behaviour in api_behaviours:
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behaviour["OriginRequestPolicyId"] == MANAGED_ALL_VIEWER_EXCEPT_HOST_HEADER
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_only_job_gets_are_cached_and_briefly_keyed_by_query_and_token(template: dict[str, Any]) -> None:
    config = _distribution(template)
    # Given the default behaviour, which serves POST /predict among others
    default = config["DefaultCacheBehavior"]
    assert "POST" in default["AllowedMethods"]
    assert default["CachePolicyId"] == MANAGED_CACHING_DISABLED

    # When the API's one cached behaviour is looked at (the dashboard's static files have their own)
    (jobs,) = [b for b in config["CacheBehaviors"] if b["TargetOriginId"] == "HttpApiOrigin"]
    assert jobs["PathPattern"] == "/jobs*"
    assert set(jobs["AllowedMethods"]) <= {"GET", "HEAD", "OPTIONS"}
    policy = _resources(template)[jobs["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]

    # Then it keeps an answer seconds, never minutes, and one caller's page is never another's
    assert policy["DefaultTTL"] <= 10
    assert policy["MaxTTL"] <= 60
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert key["HeadersConfig"]["Headers"] == ["Authorization"]


def test_cloudfront_proves_itself_to_the_api_with_the_generated_secret(template: dict[str, Any]) -> None:
    (origin,) = [o for o in _distribution(template)["Origins"] if "CustomOriginConfig" in o]
    (header,) = origin["OriginCustomHeaders"]
    secret = _resources(template)["OriginVerifySecret"]
    query_api = _functions(template)["QueryApiFunction"]["Properties"]

    # The header carries the secret's value through a dynamic reference, never a literal
    assert header["HeaderName"] == "X-Origin-Verify"
    assert header["HeaderValue"] == {"Fn::Sub": "{{resolve:secretsmanager:${OriginVerifySecret}}}"}
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    # And the query function is told where the secret is (not its value) and may read that secret only
    assert query_api["Environment"]["Variables"]["ORIGIN_VERIFY_SECRET_ARN"] == {"Ref": "OriginVerifySecret"}
    assert {
        "AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "OriginVerifySecret"}}
    } in query_api["Policies"]


def test_a_custom_domain_gets_its_certificate_and_modern_tls_only(template: dict[str, Any]) -> None:
    config = _distribution(template)
    condition, custom, default = config["ViewerCertificate"]["Fn::If"]

    assert condition == "HasCustomDomain"
    assert custom["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert custom["SslSupportMethod"] == "sni-only"
    assert custom["AcmCertificateArn"] == {"Ref": "CertificateArn"}
    assert default == {"CloudFrontDefaultCertificate": True}
    assert config["Aliases"]["Fn::If"][0] == "HasCustomDomain"
    # And a domain without a certificate is refused before anything is created
    rule = template["Rules"]["CustomDomainNeedsCertificate"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}
    assert template["Parameters"]["DomainName"]["Default"] == ""


def test_waf_and_access_logs_exist_only_when_asked_for(template: dict[str, Any]) -> None:
    config = _distribution(template)
    web_acl = _resources(template)["WebAcl"]
    rules = {rule["Name"]: rule for rule in web_acl["Properties"]["Rules"]}

    assert template["Parameters"]["EnableWaf"]["Default"] == "false"
    assert template["Parameters"]["EnableAccessLogs"]["Default"] == "false"
    assert web_acl["Condition"] == "WantsWaf"
    assert web_acl["Properties"]["Scope"] == "CLOUDFRONT"
    assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert "Block" in rules["RateLimitPerIp"]["Action"]
    assert (
        rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["Name"]
        == "AWSManagedRulesCommonRuleSet"
    )
    assert config["WebACLId"] == {
        "Fn::If": ["WantsWaf", {"Fn::GetAtt": ["WebAcl", "Arn"]}, {"Ref": "AWS::NoValue"}]
    }
    assert config["Logging"]["Fn::If"][0] == "WantsAccessLogs"
    assert _resources(template)["AccessLogBucket"]["Condition"] == "WantsAccessLogs"


def test_the_outputs_say_where_to_upload_and_where_to_query(template: dict[str, Any]) -> None:
    expected = {
        "BucketName",
        "IncomingUri",
        "ApiUrl",
        "CloudFrontUrl",
        "EndpointName",
        "TableName",
        "IngestDeadLetterQueueUrl",
        "InferenceDeadLetterQueueUrl",
        "ExportDeadLetterQueueUrl",
        "AlarmTopicArn",
    }
    assert expected <= set(template["Outputs"])


def test_no_output_invites_calls_straight_to_the_execute_api_url(template: dict[str, Any]) -> None:
    for name, output in template["Outputs"].items():
        assert "execute-api" not in str(output["Value"]), name
        assert "${HttpApi}" not in str(output["Value"]), name


# ------------------------------------------------------------------------------------------------ auth
def _definition_routes(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    paths = _resources(template)["HttpApi"]["Properties"]["DefinitionBody"]["paths"]
    return {
        (method.upper(), path): operation
        for path, methods in paths.items()
        for method, operation in methods.items()
    }


def test_every_route_but_health_needs_a_jwt_when_auth_is_on(template: dict[str, Any]) -> None:
    # Given the OpenAPI body that carries the authorizer, and the routes the function's events declare
    routes = _definition_routes(template)
    assert set(routes) == _template_routes(template)

    for route, operation in routes.items():
        if route == ("GET", "/health"):
            # Then the health check stays open, for load balancers and uptime probes
            assert "security" not in operation
        else:
            # Then every other route needs the authorizer, exactly when AuthMode is not none
            assert operation["security"] == {
                "Fn::If": ["RequiresJwt", [{"JwtAuthorizer": []}], {"Ref": "AWS::NoValue"}]
            }, route
    assert template["Parameters"]["AuthMode"]["Default"] == "none"
    assert template["Conditions"]["RequiresJwt"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AuthMode"}, "none"]}]
    }


def test_the_jwt_authorizer_trusts_the_stacks_user_pool_or_the_given_issuer(template: dict[str, Any]) -> None:
    schemes = _resources(template)["HttpApi"]["Properties"]["DefinitionBody"]["components"]["securitySchemes"]
    condition, when_on, when_off = schemes["Fn::If"]
    authorizer = when_on["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]

    assert (condition, when_off) == ("RequiresJwt", {"Ref": "AWS::NoValue"})
    assert authorizer["type"] == "jwt"
    assert authorizer["identitySource"] == "$request.header.Authorization"
    issuer_condition, cognito_issuer, oidc_issuer = authorizer["jwtConfiguration"]["issuer"]["Fn::If"]
    assert issuer_condition == "UsesCognito"
    assert "${UserPool}" in cognito_issuer["Fn::Sub"]
    assert oidc_issuer == {"Ref": "JwtIssuer"}
    assert _resources(template)["UserPool"]["Condition"] == "UsesCognito"
    assert _resources(template)["UserPool"]["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"]


# ---------------------------------------------------------------------------------------------- observability
def test_no_trace_keeps_a_copy_of_what_functions_return(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    for function_id, function in _functions(template).items():
        own = function["Properties"].get("Environment", {}).get("Variables", {})
        assert "POWERTOOLS_TRACER_CAPTURE_RESPONSE" not in own, function_id


def test_every_function_has_a_throttles_alarm(template: dict[str, Any]) -> None:
    alarmed = {
        alarm["Dimensions"][0]["Value"]["Ref"]
        for alarm in _alarms(template)
        if alarm.get("Namespace") == "AWS/Lambda" and alarm["MetricName"] == "Throttles"
    }
    assert alarmed == set(_functions(template))


def test_work_waiting_too_long_in_either_queue_raises_an_alarm(template: dict[str, Any]) -> None:
    aged = {
        _get_att_target(alarm["Dimensions"][0]["Value"]): alarm
        for alarm in _alarms(template)
        if alarm.get("MetricName") == "ApproximateAgeOfOldestMessage"
    }
    assert set(aged) == {queue_id for _, queue_id, _ in _sqs_consumers(template)}
    for queue_id, alarm in aged.items():
        visibility = _resources(template)[queue_id]["Properties"]["VisibilityTimeout"]
        # Not before a message could have waited through one retry
        assert alarm["Threshold"] >= visibility, queue_id
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_endpoint_errors_and_p99_latency_raise_alarms(template: dict[str, Any]) -> None:
    endpoint_alarms = {
        alarm["MetricName"]: alarm for alarm in _alarms(template) if alarm.get("Namespace") == "AWS/SageMaker"
    }
    assert endpoint_alarms["Invocation5XXErrors"]["Threshold"] == 0
    latency = endpoint_alarms["ModelLatency"]
    assert latency["ExtendedStatistic"] == "p99"
    assert latency["Threshold"] == {"Ref": "EndpointLatencyAlarmMicroseconds"}
    for alarm in endpoint_alarms.values():
        assert {"Name": "VariantName", "Value": "AllTraffic"} in alarm["Dimensions"]


def test_a_job_whose_positive_share_leaves_the_band_raises_the_drift_alarm(template: dict[str, Any]) -> None:
    alarm = _resources(template)["PositiveShareDriftAlarm"]["Properties"]
    queries = {query["Id"]: query for query in alarm["Metrics"]}

    assert {
        query["MetricStat"]["Metric"]["MetricName"] for query in queries.values() if "MetricStat" in query
    } == {"JobPositiveShare"}
    expression = queries["outside"]["Expression"]["Fn::Sub"]
    assert "lowest < ${PositiveShareLow}" in expression
    assert "highest > ${PositiveShareHigh}" in expression
    low, high = (
        template["Parameters"][name]["Default"] for name in ("PositiveShareLow", "PositiveShareHigh")
    )
    assert 0 < low < 0.5 < high < 1


def test_prod_deploys_the_dashboard() -> None:
    with (PROJECT_ROOT / "samconfig.toml").open("rb") as handle:
        config = tomllib.load(handle)
    assert "CreateDashboard=true" in config["prod"]["deploy"]["parameters"]["parameter_overrides"].split()


# -------------------------------------------------------------------------------------------- least privilege
def _policy_statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in function["Properties"].get("Policies", [])
        for statement in policy.get("Statement", [])
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_no_function_may_scan_delete_items_or_change_bucket_acls_and_lifecycle(
    template: dict[str, Any],
) -> None:
    forbidden = {"dynamodb:Scan", "dynamodb:DeleteItem", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"}
    # Powertools Idempotency (preprocess only) deletes its in-progress record when processing raises.
    deletes_idempotency_records = {"PreprocessFunction"}
    broad_templates = {"S3CrudPolicy", "S3FullAccessPolicy", "DynamoDBCrudPolicy", "DynamoDBReadPolicy"}
    for function_id, function in _functions(template).items():
        for policy in function["Properties"].get("Policies", []):
            assert not broad_templates & set(policy), (function_id, policy)
        allowed = {"dynamodb:DeleteItem"} if function_id in deletes_idempotency_records else set()
        for statement in _policy_statements(function):
            assert not (forbidden - allowed) & set(_actions(statement)), (function_id, statement)


def test_objects_are_deleted_only_under_processed_and_inference_never_reads_uploads(
    template: dict[str, Any],
) -> None:
    for function_id, function in _functions(template).items():
        for statement in _policy_statements(function):
            resource = json.dumps(statement["Resource"])
            if "s3:DeleteObject" in _actions(statement):
                assert resource.endswith('/processed/*"}'), (function_id, resource)
            if function_id == "InferenceFunction" and any(
                a.startswith("s3:Get") for a in _actions(statement)
            ):
                assert "incoming/" not in resource
                assert resource.endswith('/processed/*"}'), resource


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("review-sentiment-prod-sentiment", True),
        ("", True),
        ("Review-Sentiment", False),
        ("endpoint_1", False),
    ],
)
def test_an_existing_endpoint_name_must_be_lower_case(
    template: dict[str, Any], name: str, allowed: bool
) -> None:
    pattern = template["Parameters"]["ExistingEndpointName"]["AllowedPattern"]
    assert (re.fullmatch(pattern, name) is not None) is allowed


# ------------------------------------------------------------------------------------------------ routes
def _template_routes(template: dict[str, Any]) -> set[tuple[str, str]]:
    function = _functions(template)["QueryApiFunction"]
    return {(event["Method"].upper(), event["Path"]) for _, event in _events(function, "HttpApi")}


def _load_query_api_app() -> Any:
    """functions/query_api/app.py as a module of its own (every function's module is called app)."""
    spec = importlib.util.spec_from_file_location("query_api_app_under_test", QUERY_API_APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


@pytest.mark.skipif(not QUERY_API_APP.exists(), reason="functions/query_api/app.py is not written yet")
def test_every_http_api_route_is_served_by_the_query_function_and_vice_versa(
    template: dict[str, Any], pipeline_env: dict[str, str]
) -> None:
    # Given the routes API Gateway sends to the query function
    declared = _template_routes(template)

    # When the function's Powertools resolver is loaded as on Lambda
    resolver = _load_query_api_app().resolver()
    served = {
        (route.method, route.openapi_path) for route in resolver._static_routes + resolver._dynamic_routes
    }

    # Then API Gateway routes nothing the function would answer 404 to, and no served route is unreachable
    assert declared == served
