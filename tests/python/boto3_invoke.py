#!/usr/bin/env python3
"""boto3 as the caller of the Firebox emulator's Invoke API, for tests/tests/boto3_caller.rs.

Usage: boto3_invoke.py ENDPOINT GROUP, where GROUP is `service-errors`, `invokes`, `versions`,
`control-writes`, `settings`, `deploy`, `event-invoke`, `provisioned`, `policy` or
`function-urls`.
Runs the group's invokes with boto3's Lambda client against ENDPOINT and prints one JSON object
on stdout: for each case, what boto3 returned or raised (the Rust test asserts on it). It needs
only boto3; credentials and region come from the environment the test sets (dummy values).
Exits 0 when every case ran (whatever it observed), 1 on an unexpected failure of the script.
"""

import base64
import hashlib
import io
import json
import sys
import time
import urllib.error
import urllib.request
import zipfile

import boto3
import botocore.config
import botocore.exceptions

SYNC_LIMIT = 6_291_456
EVENT_LIMIT = 1_048_576


def client(endpoint):
    config = botocore.config.Config(
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=60,
    )
    return boto3.client("lambda", endpoint_url=endpoint, config=config)


def json_string_of_size(size):
    """A valid JSON document (a string) of exactly `size` bytes."""
    return b'"' + b"a" * (size - 2) + b'"'


def raised(lam, **kwargs):
    """Invokes and describes the exception boto3 raises (or notes that none was raised)."""
    return raised_by(lam, "invoke", **kwargs)


def raised_by(lam, operation, **kwargs):
    """Calls `operation` and describes the exception boto3 raises (or notes that none was)."""
    try:
        response = getattr(lam, operation)(**kwargs)
    except botocore.exceptions.ClientError as error:
        modeled = getattr(lam.exceptions, error.response["Error"]["Code"], None)
        return {
            "exception": type(error).__name__,
            "is_modeled_class": modeled is not None and isinstance(error, modeled),
            "code": error.response["Error"]["Code"],
            "message": error.response["Error"].get("Message", ""),
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
        }
    return {
        "exception": None,
        "status": response.get("StatusCode", response["ResponseMetadata"]["HTTPStatusCode"]),
    }


def service_errors(lam):
    return {
        "unknown_function": raised(lam, FunctionName="no-such-function", Payload=b"{}"),
        "unknown_qualifier": raised(lam, FunctionName="hello", Qualifier="prod", Payload=b"{}"),
        "invalid_json": raised(lam, FunctionName="hello", Payload=b"{not json"),
        "too_large_sync": raised(
            lam, FunctionName="hello", Payload=json_string_of_size(SYNC_LIMIT + 1)
        ),
        "too_large_event": raised(
            lam,
            FunctionName="hello",
            InvocationType="Event",
            Payload=json_string_of_size(EVENT_LIMIT + 1),
        ),
    }


def described(response):
    """The parts of an invoke response the test checks."""
    payload = response["Payload"].read()
    log = response.get("LogResult")
    return {
        "status": response["StatusCode"],
        "request_id": response["ResponseMetadata"]["RequestId"],
        "executed_version": response.get("ExecutedVersion"),
        "function_error": response.get("FunctionError"),
        "payload": payload.decode("utf-8", "replace"),
        "log": None if log is None else base64.b64decode(log).decode("utf-8", "replace"),
    }


def invokes(lam):
    return {
        "success": described(
            lam.invoke(FunctionName="hello", Payload=json.dumps({"name": "boto3"}))
        ),
        "function_error": described(
            lam.invoke(FunctionName="errors", Payload=b'{"kind":"typed","order_id":"7"}')
        ),
        "log_tail": described(
            lam.invoke(FunctionName="hello", Payload=b'{"name":"tail"}', LogType="Tail")
        ),
        "event": described(
            lam.invoke(FunctionName="hello", InvocationType="Event", Payload=b"{}")
        ),
        "dry_run": described(
            lam.invoke(FunctionName="hello", InvocationType="DryRun", Payload=b"{}")
        ),
    }


def versions(lam):
    """Versions and aliases: invokes through them, and the read side of the control plane."""
    configuration = lam.get_function_configuration(FunctionName="hello", Qualifier="live")
    pages = list(
        lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1})
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName="hello", WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )
    return {
        "via_alias": described(
            lam.invoke(FunctionName="hello", Qualifier="live", Payload=b'{"name":"alias"}')
        ),
        "via_version": described(lam.invoke(FunctionName="hello:1", Payload=b"{}")),
        "function": lam.get_function(FunctionName="hello")["Configuration"],
        "live_configuration": configuration,
        "versions": [
            v["Version"] for v in lam.list_versions_by_function(FunctionName="hello")["Versions"]
        ],
        "aliases": [
            [a["Name"], a["FunctionVersion"]]
            for a in lam.list_aliases(FunctionName="hello")["Aliases"]
        ],
        "alias": lam.get_alias(FunctionName="hello", Name="live"),
        "listed": [f["FunctionName"] for page in pages for f in page["Functions"]],
        "pages": len(pages),
        "waiter": "active",
        "account": lam.get_account_settings()["AccountLimit"],
        "missing_alias": raised_by(lam, "get_alias", FunctionName="hello", Name="nope"),
        "missing_version": raised(lam, FunctionName="hello", Qualifier="7", Payload=b"{}"),
        # "PK" is not a .zip: refused, and no function `new` is created.
        "create_function": raised_by(
            lam,
            "create_function",
            FunctionName="new",
            Role="arn:aws:iam::123456789012:role/firebox",
            Code={"ZipFile": b"PK"},
            Runtime="provided.al2023",
            Handler="bootstrap",
        ),
    }


def without_metadata(response):
    """A control-plane response without boto3's `ResponseMetadata`."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def control_writes(lam):
    """Aliases and reserved concurrency changed through the API, and invokes that follow."""
    created = lam.create_alias(
        FunctionName="hello", Name="beta", FunctionVersion="2", Description="next"
    )
    via_created = described(lam.invoke(FunctionName="hello", Qualifier="beta", Payload=b"{}"))
    updated = lam.update_alias(
        FunctionName="hello",
        Name="beta",
        FunctionVersion="1",
        RevisionId=created["RevisionId"],
        RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}},
    )
    via_routed = described(lam.invoke(FunctionName="hello", Qualifier="beta", Payload=b"{}"))
    stale_revision = raised_by(
        lam,
        "update_alias",
        FunctionName="hello",
        Name="beta",
        FunctionVersion="2",
        RevisionId=created["RevisionId"],
    )
    conflict = raised_by(lam, "create_alias", FunctionName="hello", Name="beta", FunctionVersion="1")
    unknown_version = raised_by(
        lam, "create_alias", FunctionName="hello", Name="gamma", FunctionVersion="9"
    )
    deleted = lam.delete_alias(FunctionName="hello", Name="beta")
    after_delete = raised(lam, FunctionName="hello", Qualifier="beta", Payload=b"{}")

    reserved = lam.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=0)
    throttled = raised(lam, FunctionName="hello", Payload=b"{}")
    while_reserved = lam.get_function_concurrency(FunctionName="hello")
    too_much = raised_by(
        lam, "put_function_concurrency", FunctionName="hello", ReservedConcurrentExecutions=950
    )
    removed = lam.delete_function_concurrency(FunctionName="hello")
    after_removal = described(lam.invoke(FunctionName="hello", Payload=b"{}"))
    return {
        "created": without_metadata(created),
        "created_status": created["ResponseMetadata"]["HTTPStatusCode"],
        "via_created": via_created,
        "updated": without_metadata(updated),
        "via_routed": via_routed,
        "stale_revision": stale_revision,
        "conflict": conflict,
        "unknown_version": unknown_version,
        "deleted_status": deleted["ResponseMetadata"]["HTTPStatusCode"],
        "after_delete": after_delete,
        "reserved": without_metadata(reserved),
        "throttled": throttled,
        "while_reserved": without_metadata(while_reserved),
        "too_much": too_much,
        "removed_status": removed["ResponseMetadata"]["HTTPStatusCode"],
        "after_removal": after_removal,
        "after_removal_concurrency": without_metadata(
            lam.get_function_concurrency(FunctionName="hello")
        ),
    }


def settings(lam):
    """A deployment as tools script it: update the settings, wait with boto3's waiter,
    publish, wait for the version, point an alias at it; then refusals."""
    before = lam.get_function_configuration(FunctionName="settings")
    updated = lam.update_function_configuration(
        FunctionName="settings",
        MemorySize=384,
        Timeout=11,
        Description="deploy",
        Environment={"Variables": {"STAGE": "prod"}},
        RevisionId=before["RevisionId"],
    )
    lam.get_waiter("function_updated_v2").wait(
        FunctionName="settings", WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    after_update = described(lam.invoke(FunctionName="settings", LogType="Tail", Payload=b"{}"))
    published = lam.publish_version(FunctionName="settings", Description="v1")
    lam.get_waiter("published_version_active").wait(
        FunctionName="settings",
        Qualifier=published["Version"],
        WaiterConfig={"Delay": 1, "MaxAttempts": 5},
    )
    alias = lam.create_alias(FunctionName="settings", Name="prod", FunctionVersion=published["Version"])
    lam.update_function_configuration(FunctionName="settings", MemorySize=128)
    via_alias = described(
        lam.invoke(FunctionName="settings", Qualifier="prod", LogType="Tail", Payload=b"{}")
    )
    latest = described(lam.invoke(FunctionName="settings", LogType="Tail", Payload=b"{}"))
    return {
        "before_revision": before["RevisionId"],
        "updated": without_metadata(updated),
        "after_update": after_update,
        "published": without_metadata(published),
        "published_status": published["ResponseMetadata"]["HTTPStatusCode"],
        "alias_version": alias["FunctionVersion"],
        "via_alias": via_alias,
        "latest": latest,
        "too_small": raised_by(
            lam, "update_function_configuration", FunctionName="settings", MemorySize=20000
        ),
        "stale": raised_by(
            lam,
            "update_function_configuration",
            FunctionName="settings",
            Timeout=5,
            RevisionId=before["RevisionId"],
        ),
        "role": raised_by(
            lam,
            "update_function_configuration",
            FunctionName="settings",
            Role="arn:aws:iam::123456789012:role/other",
        ),
        "versions": [
            v["Version"] for v in lam.list_versions_by_function(FunctionName="settings")["Versions"]
        ],
    }


ROLE = "arn:aws:iam::123456789012:role/firebox-deploy"

HANDLER_SOURCE = """\
import os


def handler(event, context):
    return {
        "version": %r,
        "env": os.environ.get("AWS_EXECUTION_ENV"),
        "function_version": context.function_version,
    }
"""


def handler_zip(version):
    """A deployment package built in memory, as a deploy script would: `app.py`, whose
    handler answers with `version`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("app.py", HANDLER_SOURCE % version)
    return buffer.getvalue()


def sha256_b64(data):
    """Lambda's `CodeSha256`: the base64 of the package's SHA-256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def deploy(lam):
    """A scripted deployment of a Python function from a .zip built in memory: create (and
    publish version 1), wait, invoke; new code, wait, invoke `$LATEST` and version 1; publish
    version 2 behind an alias; delete versions; refusals; delete the function."""
    name = "deployed"
    v1 = handler_zip("v1")
    v2 = handler_zip("v2")
    waiter_config = {"Delay": 1, "MaxAttempts": 10}

    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": v1},
        Description="deployed by boto3",
        Timeout=20,
        MemorySize=256,
        Environment={"Variables": {"STAGE": "test"}},
        Tags={"team": "orders"},
        Publish=True,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=waiter_config)
    first = described(lam.invoke(FunctionName=name, Payload=b"{}"))
    function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    lam.tag_resource(Resource=function_arn, Tags={"stage": "dev", "team": "billing"})
    tagged = lam.list_tags(Resource=function_arn)["Tags"]
    lam.untag_resource(Resource=function_arn, TagKeys=["stage"])
    tags_shown = lam.get_function(FunctionName=name).get("Tags")
    latest_after_create = lam.get_function_configuration(FunctionName=name)

    updated = lam.update_function_code(
        FunctionName=name, ZipFile=v2, RevisionId=latest_after_create["RevisionId"]
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=waiter_config)
    after_update = described(lam.invoke(FunctionName=name, Payload=b"{}"))
    version_1 = described(lam.invoke(FunctionName=name, Qualifier="1", Payload=b"{}"))
    version_1_configuration = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    stale_code = raised_by(
        lam,
        "update_function_code",
        FunctionName=name,
        ZipFile=v1,
        RevisionId=latest_after_create["RevisionId"],
    )

    published = lam.publish_version(FunctionName=name, Description="v2")
    lam.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=published["Version"], WaiterConfig=waiter_config
    )
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion=published["Version"])
    via_alias = described(lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}"))
    version_in_use = raised_by(lam, "delete_function", FunctionName=name, Qualifier="2")
    latest_not_deletable = raised_by(
        lam, "delete_function", FunctionName=name, Qualifier="$LATEST"
    )
    deleted_version = lam.delete_function(FunctionName=name, Qualifier="1")
    after_version_delete = raised(lam, FunctionName=name, Qualifier="1", Payload=b"{}")
    versions_after_delete = [
        v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]
    ]
    # The alias still runs version 2.
    via_alias_after_delete = described(
        lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
    )

    already_exists = raised_by(
        lam,
        "create_function",
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": v1},
    )
    not_a_zip = raised_by(
        lam,
        "create_function",
        FunctionName="not-a-zip",
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": b"this is not a zip file"},
    )
    # `hello` runs a command from its configuration: no package to replace.
    command_function = raised_by(lam, "update_function_code", FunctionName="hello", ZipFile=v1)

    listed_before_delete = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    deleted = lam.delete_function(FunctionName=name)
    return {
        "created": without_metadata(created),
        "created_status": created["ResponseMetadata"]["HTTPStatusCode"],
        "tagged": tagged,
        "tags_shown": tags_shown,
        "v1_sha256": sha256_b64(v1),
        "v1_size": len(v1),
        "v2_sha256": sha256_b64(v2),
        "v2_size": len(v2),
        "first": first,
        "latest_after_create": without_metadata(latest_after_create),
        "updated": without_metadata(updated),
        "updated_status": updated["ResponseMetadata"]["HTTPStatusCode"],
        "after_update": after_update,
        "version_1": version_1,
        "version_1_configuration": without_metadata(version_1_configuration),
        "stale_code": stale_code,
        "published": without_metadata(published),
        "alias": without_metadata(alias),
        "via_alias": via_alias,
        "version_in_use": version_in_use,
        "latest_not_deletable": latest_not_deletable,
        "deleted_version_status": deleted_version["ResponseMetadata"]["HTTPStatusCode"],
        "after_version_delete": after_version_delete,
        "versions_after_delete": versions_after_delete,
        "via_alias_after_delete": via_alias_after_delete,
        "already_exists": already_exists,
        "not_a_zip": not_a_zip,
        "not_a_zip_listed": "not-a-zip"
        in [f["FunctionName"] for f in lam.list_functions()["Functions"]],
        "command_function": command_function,
        "listed_before_delete": listed_before_delete,
        "deleted_status": deleted["ResponseMetadata"]["HTTPStatusCode"],
        "after_delete": raised_by(lam, "get_function", FunctionName=name),
        "invoke_after_delete": raised(lam, FunctionName=name, Payload=b"{}"),
        "listed_after_delete": [f["FunctionName"] for f in lam.list_functions()["Functions"]],
    }


def event_invoke(lam):
    """Asynchronous-invocation configurations put, updated, listed and deleted; an Event
    whose failure record goes to an alias of another function; the refusals."""
    arn = "arn:aws:lambda:us-east-1:123456789012:function"
    put = lam.put_function_event_invoke_config(
        FunctionName="errors",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"{arn}:hello:live"}},
    )
    got = lam.get_function_event_invoke_config(FunctionName="errors")
    updated = lam.update_function_event_invoke_config(
        FunctionName="errors", MaximumEventAgeInSeconds=120
    )
    failing = lam.invoke(
        FunctionName="errors",
        InvocationType="Event",
        Payload=json.dumps({"kind": "typed", "order_id": "77"}).encode(),
    )
    on_alias = lam.put_function_event_invoke_config(
        FunctionName="hello", Qualifier="live", MaximumRetryAttempts=1
    )
    listed = lam.list_function_event_invoke_configs(FunctionName="hello")
    refusals = {
        "too_many_retries": raised_by(
            lam, "put_function_event_invoke_config", FunctionName="errors", MaximumRetryAttempts=5
        ),
        "itself": raised_by(
            lam,
            "put_function_event_invoke_config",
            FunctionName="errors",
            DestinationConfig={"OnSuccess": {"Destination": f"{arn}:errors"}},
        ),
        "a_queue": raised_by(
            lam,
            "put_function_event_invoke_config",
            FunctionName="errors",
            DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}},
        ),
        "nothing_given": raised_by(lam, "put_function_event_invoke_config", FunctionName="errors"),
        "update_without_config": raised_by(
            lam, "update_function_event_invoke_config", FunctionName="hello", MaximumRetryAttempts=1
        ),
        "unknown_alias": raised_by(
            lam,
            "put_function_event_invoke_config",
            FunctionName="hello",
            Qualifier="nope",
            MaximumRetryAttempts=1,
        ),
    }
    deleted = lam.delete_function_event_invoke_config(FunctionName="hello", Qualifier="live")
    after_delete = raised_by(
        lam, "get_function_event_invoke_config", FunctionName="hello", Qualifier="live"
    )

    def shown(response):
        out = without_metadata(response)
        # A datetime for boto3: that it parsed is what is checked.
        out["LastModified"] = type(out["LastModified"]).__name__
        return out

    return {
        "put": shown(put),
        "got": shown(got),
        "updated": shown(updated),
        "event_status": failing["StatusCode"],
        "on_alias": shown(on_alias),
        "listed": [shown(c) for c in listed["FunctionEventInvokeConfigs"]],
        "deleted_status": deleted["ResponseMetadata"]["HTTPStatusCode"],
        "after_delete": after_delete,
        **refusals,
    }


def provisioned(lam):
    """Provisioned concurrency on an alias: put, polled until READY, an invoke with no Init in
    its log tail, listed (and paginated), deleted; the refusals."""
    put = lam.put_provisioned_concurrency_config(
        FunctionName="hello", Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    polls = 0
    got = lam.get_provisioned_concurrency_config(FunctionName="hello", Qualifier="live")
    while got["Status"] != "READY" and polls < 1200:  # up to 60 s, for broken runs only
        time.sleep(0.05)
        polls += 1
        got = lam.get_provisioned_concurrency_config(FunctionName="hello", Qualifier="live")
    invoked = lam.invoke(
        FunctionName="hello", Qualifier="live", LogType="Tail", Payload=b'{"name": "Ada"}'
    )
    tail = base64.b64decode(invoked["LogResult"]).decode()
    listed = lam.list_provisioned_concurrency_configs(FunctionName="hello")
    paged = [
        c["FunctionArn"]
        for page in lam.get_paginator("list_provisioned_concurrency_configs").paginate(
            FunctionName="hello", PaginationConfig={"PageSize": 1}
        )
        for c in page["ProvisionedConcurrencyConfigs"]
    ]
    refusals = {
        "latest": raised_by(
            lam,
            "put_provisioned_concurrency_config",
            FunctionName="hello",
            Qualifier="$LATEST",
            ProvisionedConcurrentExecutions=1,
        ),
        "version_under_alias": raised_by(
            lam,
            "put_provisioned_concurrency_config",
            FunctionName="hello",
            Qualifier="1",
            ProvisionedConcurrentExecutions=1,
        ),
        "beyond_the_pool": raised_by(
            lam,
            "put_provisioned_concurrency_config",
            FunctionName="hello",
            Qualifier="live",
            ProvisionedConcurrentExecutions=1000,
        ),
        "unknown_version": raised_by(
            lam, "get_provisioned_concurrency_config", FunctionName="hello", Qualifier="7"
        ),
    }
    deleted = lam.delete_provisioned_concurrency_config(FunctionName="hello", Qualifier="live")
    after_delete = raised_by(
        lam, "get_provisioned_concurrency_config", FunctionName="hello", Qualifier="live"
    )

    def shown(response):
        out = without_metadata(response)
        out.pop("LastModified", None)
        return out

    return {
        "put_status": put["ResponseMetadata"]["HTTPStatusCode"],
        "put": shown(put),
        "got": shown(got),
        "last_modified": got["LastModified"],
        "init_in_tail": "Init Duration" in tail,
        "report_in_tail": "REPORT RequestId" in tail,
        "answer": json.loads(invoked["Payload"].read()),
        "listed": [shown(c) for c in listed["ProvisionedConcurrencyConfigs"]],
        "paged": paged,
        "deleted_status": deleted["ResponseMetadata"]["HTTPStatusCode"],
        "after_delete": after_delete,
        **refusals,
    }


def policy(lam):
    """Resource-based policies as deploy tools script them: `add_permission` for S3 (with
    SourceArn and SourceAccount) and for a public function URL, `get_policy` read with
    json.loads, a policy of the alias's own, the refusals (none of which changes the policy),
    `remove_permission` with the policy's RevisionId, and an invoke the policy does not stop."""
    s3 = lam.add_permission(
        FunctionName="hello",
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::uploads",
        SourceAccount="123456789012",
    )
    url = lam.add_permission(
        FunctionName="hello",
        StatementId="url-public",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    got = lam.get_policy(FunctionName="hello")
    on_alias = lam.add_permission(
        FunctionName="hello",
        Qualifier="live",
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn="arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/orders",
    )
    alias_policy = lam.get_policy(FunctionName="hello", Qualifier="live")
    s3_again = {
        "FunctionName": "hello",
        "StatementId": "s3-invoke",
        "Action": "lambda:InvokeFunction",
        "Principal": "s3.amazonaws.com",
    }
    refusals = {
        "duplicate": raised_by(lam, "add_permission", **s3_again),
        "stale_add": raised_by(
            lam, "add_permission", **{**s3_again, "StatementId": "other", "RevisionId": "stale"}
        ),
        "stale_remove": raised_by(
            lam,
            "remove_permission",
            FunctionName="hello",
            StatementId="s3-invoke",
            RevisionId="stale",
        ),
        "unknown_statement": raised_by(
            lam, "remove_permission", FunctionName="hello", StatementId="nope"
        ),
        "bad_action": raised_by(lam, "add_permission", **{**s3_again, "Action": "s3:GetObject"}),
        "bad_principal": raised_by(
            lam, "add_permission", **{**s3_again, "StatementId": "x", "Principal": "someone"}
        ),
        "latest": raised_by(lam, "add_permission", **{**s3_again, "Qualifier": "$LATEST"}),
        "unknown_alias": raised_by(lam, "add_permission", **{**s3_again, "Qualifier": "nope"}),
    }
    unchanged = lam.get_policy(FunctionName="hello")
    removed = lam.remove_permission(
        FunctionName="hello", StatementId="s3-invoke", RevisionId=got["RevisionId"]
    )
    after_remove = lam.get_policy(FunctionName="hello")
    lam.remove_permission(FunctionName="hello", StatementId="url-public")
    return {
        "s3": json.loads(s3["Statement"]),
        "s3_status": s3["ResponseMetadata"]["HTTPStatusCode"],
        "url": json.loads(url["Statement"]),
        "policy": json.loads(got["Policy"]),
        "revision": got["RevisionId"],
        "on_alias": json.loads(on_alias["Statement"]),
        "alias_policy": json.loads(alias_policy["Policy"]),
        "unchanged": [json.loads(unchanged["Policy"]), unchanged["RevisionId"]],
        "removed_status": removed["ResponseMetadata"]["HTTPStatusCode"],
        "after_remove": [json.loads(after_remove["Policy"]), after_remove["RevisionId"]],
        "no_policy": raised_by(lam, "get_policy", FunctionName="hello"),
        "not_enforced": described(
            lam.invoke(FunctionName="hello", Qualifier="live", Payload=b'{"name":"policy"}')
        ),
        **refusals,
    }


def fetched(url):
    """GETs a function URL as any HTTP client would: its status and body."""
    try:
        with urllib.request.urlopen(url + "greet?x=1", timeout=30) as response:
            return {"status": response.status, "body": json.loads(response.read())}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": None}


def function_urls(lam):
    """Function URLs, one per qualifier: `$LATEST`'s and alias `live`'s made, listed (with a
    paginator), fetched, read, changed and removed apart; the alias's goes with the alias."""
    latest = lam.create_function_url_config(FunctionName="hello", AuthType="NONE")
    live = lam.create_function_url_config(
        FunctionName="hello",
        Qualifier="live",
        AuthType="NONE",
        Cors={"AllowOrigins": ["https://live.example"]},
    )
    second_live = raised_by(
        lam, "create_function_url_config", FunctionName="hello", Qualifier="live", AuthType="NONE"
    )
    listed = lam.list_function_url_configs(FunctionName="hello")["FunctionUrlConfigs"]
    paged = [
        config["FunctionArn"]
        for page in lam.get_paginator("list_function_url_configs").paginate(
            FunctionName="hello", PaginationConfig={"PageSize": 1}
        )
        for config in page["FunctionUrlConfigs"]
    ]
    fetched_latest = fetched(latest["FunctionUrl"])
    fetched_live = fetched(live["FunctionUrl"])
    updated_live = lam.update_function_url_config(
        FunctionName="hello", Qualifier="live", AuthType="AWS_IAM"
    )
    got_latest = lam.get_function_url_config(FunctionName="hello")
    got_live = lam.get_function_url_config(FunctionName="hello", Qualifier="live")
    lam.delete_function_url_config(FunctionName="hello", Qualifier="live")
    after_delete = raised_by(lam, "get_function_url_config", FunctionName="hello", Qualifier="live")
    fetched_after_delete = fetched(live["FunctionUrl"])
    lam.create_function_url_config(FunctionName="hello", Qualifier="live", AuthType="NONE")
    lam.delete_alias(FunctionName="hello", Name="live")
    after_alias_delete = [
        c["FunctionArn"]
        for c in lam.list_function_url_configs(FunctionName="hello")["FunctionUrlConfigs"]
    ]

    def shown(config):
        out = without_metadata(config)
        out.pop("CreationTime", None)
        out.pop("LastModifiedTime", None)
        return out

    return {
        "latest": shown(latest),
        "live": shown(live),
        "second_live": second_live,
        "listed": [shown(c) for c in listed],
        "paged": paged,
        "fetched_latest": fetched_latest,
        "fetched_live": fetched_live,
        "updated_live": shown(updated_live),
        "got_latest": shown(got_latest),
        "got_live": shown(got_live),
        "after_delete": after_delete,
        "fetched_after_delete": fetched_after_delete,
        "after_alias_delete": after_alias_delete,
        "latest_fetched_at_the_end": fetched(latest["FunctionUrl"]),
    }


GROUPS = {
    "service-errors": service_errors,
    "invokes": invokes,
    "versions": versions,
    "control-writes": control_writes,
    "settings": settings,
    "deploy": deploy,
    "event-invoke": event_invoke,
    "provisioned": provisioned,
    "policy": policy,
    "function-urls": function_urls,
}


def main(argv):
    if len(argv) != 2 or argv[1] not in GROUPS:
        print(f"usage: boto3_invoke.py ENDPOINT {{{'|'.join(GROUPS)}}}", file=sys.stderr)
        return 2
    results = GROUPS[argv[1]](client(argv[0]))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
