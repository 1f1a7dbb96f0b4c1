"""template.yaml's promises, read through local.template.load_template() (the loader the emulator uses).

cfn-lint and `sam validate --lint` check that the template is valid CloudFormation; these tests check that it
is the application we mean: retries that cannot overlap, failures that end somewhere visible, storage that is
private and encrypted, and an HTTP API whose routes are exactly the ones the query function serves.
"""

from __future__ import annotations

import importlib.util
import sys
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
            if alarm["Dimensions"]
            == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_id, "QueueName"]}}]
        ]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_every_function_has_an_errors_alarm(template: dict[str, Any]) -> None:
    alarmed = {
        alarm["Dimensions"][0]["Value"]["Ref"]
        for alarm in _alarms(template)
        if alarm["Namespace"] == "AWS/Lambda" and alarm["MetricName"] == "Errors"
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
    (rule,) = template["Rules"].values()

    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "ExistingEndpointName"}, ""]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ModelDataUrl"}, ""]}]}
    for model_resource in ("SentimentModel", "SentimentEndpointConfig", "SentimentEndpoint"):
        assert _resources(template)[model_resource]["Condition"] == "CreateEndpoint"


# ------------------------------------------------------------------------------------------------ edge
def test_cloudfront_redirects_to_https_and_neither_caches_nor_rewrites_the_api(
    template: dict[str, Any],
) -> None:
    config = _resources(template)["ApiDistribution"]["Properties"]["DistributionConfig"]
    behaviours = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]

    for behaviour in behaviours:
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behaviour["CachePolicyId"] == MANAGED_CACHING_DISABLED
        assert behaviour["OriginRequestPolicyId"] == MANAGED_ALL_VIEWER_EXCEPT_HOST_HEADER
        assert {"GET", "POST"} <= set(behaviour["AllowedMethods"])
    (origin,) = config["Origins"]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


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
