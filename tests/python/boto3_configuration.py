"""boto3 configures functions: asynchronous invocation per qualifier, provisioned concurrency,
resource-based policies, function URLs and the settings stored with no effect here (the groups
`event-invoke`, `provisioned`, `policy`, `function-urls` and `stored-settings` of
boto3_invoke.py)."""

import base64
import json
import time
import urllib.error
import urllib.request

from boto3_common import described, raised_by, without_metadata


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
    its log tail, listed (and paginated), deleted; the refusals, among them `update_alias` to
    $LATEST while the alias has a configuration (the alias then unchanged)."""
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
        "alias_to_latest": raised_by(
            lam, "update_alias", FunctionName="hello", Name="live", FunctionVersion="$LATEST"
        ),
    }
    alias_after = lam.get_alias(FunctionName="hello", Name="live")["FunctionVersion"]
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
        "alias_after": alias_after,
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


def stored_settings(lam):
    """The settings deploy tools read and write around a function that change nothing here:
    code signing (none, and none to attach), runtime management per version, and the
    recursive loop setting, with the refusals."""
    runtime = "arn:aws:lambda:us-east-1::runtime:8eeff65f6809a3ce81507fe733fe09b835899b99481ba22fd75b5a7338290ec1"
    code_signing = lam.get_function_code_signing_config(FunctionName="hello")
    deleted = lam.delete_function_code_signing_config(FunctionName="hello")
    put_manual = lam.put_runtime_management_config(
        FunctionName="hello", Qualifier="1", UpdateRuntimeOn="Manual", RuntimeVersionArn=runtime
    )
    return {
        "code_signing": without_metadata(code_signing),
        "code_signing_deleted_status": deleted["ResponseMetadata"]["HTTPStatusCode"],
        "attach_code_signing": raised_by(
            lam,
            "put_function_code_signing_config",
            FunctionName="hello",
            CodeSigningConfigArn="arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdef0",
        ),
        "put_manual": without_metadata(put_manual),
        "version_1": without_metadata(
            lam.get_runtime_management_config(FunctionName="hello", Qualifier="1")
        ),
        "latest": without_metadata(lam.get_runtime_management_config(FunctionName="hello")),
        "manual_without_runtime": raised_by(
            lam, "put_runtime_management_config", FunctionName="hello", UpdateRuntimeOn="Manual"
        ),
        "on_an_alias": raised_by(
            lam,
            "put_runtime_management_config",
            FunctionName="hello",
            Qualifier="live",
            UpdateRuntimeOn="Auto",
        ),
        "unknown_version": raised_by(
            lam, "get_runtime_management_config", FunctionName="hello", Qualifier="9"
        ),
        "recursion_before": without_metadata(
            lam.get_function_recursion_config(FunctionName="hello")
        ),
        "recursion_put": without_metadata(
            lam.put_function_recursion_config(FunctionName="hello", RecursiveLoop="Allow")
        ),
        "recursion_after": without_metadata(
            lam.get_function_recursion_config(FunctionName="hello")
        ),
        "recursion_other_function": without_metadata(
            lam.get_function_recursion_config(FunctionName="errors")
        ),
        "recursion_unknown_setting": raised_by(
            lam, "put_function_recursion_config", FunctionName="hello", RecursiveLoop="Stop"
        ),
    }
