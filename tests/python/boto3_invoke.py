#!/usr/bin/env python3
"""boto3 as the caller of the Firebox emulator's Invoke API, for tests/tests/boto3_caller/.

Usage: boto3_invoke.py ENDPOINT GROUP, where GROUP is `service-errors`, `invokes`, `versions`,
`control-writes`, `settings`, `deploy`, `event-invoke`, `provisioned`, `policy`,
`function-urls` or `stored-settings`.
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
import zipfile

from boto3_common import (
    client,
    described,
    json_string_of_size,
    raised,
    raised_by,
    without_metadata,
)
from boto3_configuration import (
    event_invoke,
    function_urls,
    policy,
    provisioned,
    stored_settings,
)

SYNC_LIMIT = 6_291_456
EVENT_LIMIT = 1_048_576


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
        "role": lam.update_function_configuration(
            FunctionName="settings", Role="arn:aws:iam::123456789012:role/other"
        )["Role"],
        "role_read_back": lam.get_function_configuration(FunctionName="settings")["Role"],
        "bad_role": raised_by(
            lam, "update_function_configuration", FunctionName="settings", Role="not-a-role"
        ),
        "layers": raised_by(
            lam,
            "update_function_configuration",
            FunctionName="settings",
            Layers=["arn:aws:lambda:us-east-1:123456789012:layer:shared:1"],
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
    "stored-settings": stored_settings,
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
