"""boto3 against the emulator's layer APIs: `python boto3_layers.py ENDPOINT GROUP [ARG]`
prints one JSON report of what boto3 returned or raised, which `layer_api` asserts on.

Groups: `lifecycle` (publish, get, list with filters and paging, delete), `function` (a
Python function that imports modules from published layers, given new layers, published,
and run after its layer version was deleted), `refusals` (every bad request), `permissions`
(the layer permission calls), `size` (code and layers together over Lambda's 250 MB limit,
refused with nothing changed). The `.zip` files are built here, with `zipfile`."""

import base64
import hashlib
import io
import json
import os
import sys
import zipfile

# Dummy credentials and region only: nothing from the developer's AWS configuration.
for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA"):
    os.environ.pop(name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="AKIDFIREBOXLAYERS",
    AWS_SECRET_ACCESS_KEY="firebox-layers",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE="/dev/null",
    AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    AWS_EC2_METADATA_DISABLED="true",
)

# The Lambda client and `raised_by`, shared with the end-to-end boto3 scripts.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "python"))
from boto3_common import client, raised_by as raised  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/firebox-layers"
ARN = "arn:aws:lambda:us-east-1:123456789012:layer"


def zip_of(files):
    """A .zip of `{path: text}`; a path ending in `*` is made executable (the `*` dropped)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for path, text in files.items():
            mode = 0o644
            if path.endswith("*"):
                path, mode = path[:-1], 0o755
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            z.writestr(info, text)
    return out.getvalue()


def zeros_zip(path, size):
    """A .zip of one file of `size` zero bytes, deflated (a few hundred KB for 140 MB)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | 0o644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        chunk = bytes(1 << 20)
        with z.open(info, "w") as f:
            left = size
            while left > 0:
                f.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return out.getvalue()


def module_layer(module, value):
    """A layer with `python/MODULE.py` defining `VALUE`."""
    return zip_of({f"python/{module}.py": f"VALUE = {value!r}\n"})


def digest(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def without_metadata(response):
    response.pop("ResponseMetadata", None)
    return response


def lifecycle(lam):
    one = module_layer("greeting", "one")
    two = module_layer("greeting", "two")
    report = {"sha_one": digest(one), "size_one": len(one)}
    report["v1"] = without_metadata(
        lam.publish_layer_version(LayerName="deps", Content={"ZipFile": one})
    )
    report["v2"] = without_metadata(
        lam.publish_layer_version(
            LayerName="deps",
            Description="second",
            Content={"ZipFile": two},
            CompatibleRuntimes=["python3.12", "python3.13"],
            CompatibleArchitectures=["x86_64"],
            LicenseInfo="MIT",
        )
    )
    # Named by its ARN, as PublishLayerVersion allows.
    report["tools"] = without_metadata(
        lam.publish_layer_version(
            LayerName=f"{ARN}:tools",
            Content={"ZipFile": zip_of({"bin/tool*": "#!/bin/sh\necho tool\n"})},
            CompatibleRuntimes=["nodejs22.x"],
            CompatibleArchitectures=["arm64"],
        )
    )
    report["get_v1"] = without_metadata(lam.get_layer_version(LayerName="deps", VersionNumber=1))
    report["by_arn"] = without_metadata(lam.get_layer_version_by_arn(Arn=f"{ARN}:deps:2"))
    report["list"] = without_metadata(lam.list_layers())
    report["list_python"] = without_metadata(lam.list_layers(CompatibleRuntime="python3.13"))
    report["list_arm"] = without_metadata(lam.list_layers(CompatibleArchitecture="arm64"))
    report["list_none"] = without_metadata(lam.list_layers(CompatibleRuntime="java21"))
    report["versions"] = without_metadata(lam.list_layer_versions(LayerName="deps"))
    report["versions_python"] = without_metadata(
        lam.list_layer_versions(LayerName="deps", CompatibleRuntime="python3.12")
    )
    report["versions_unknown"] = without_metadata(lam.list_layer_versions(LayerName="never"))
    # Paging, one layer a page, by hand and with boto3's paginator.
    first = lam.list_layers(MaxItems=1)
    second = lam.list_layers(MaxItems=1, Marker=first["NextMarker"])
    report["page_1"] = [l["LayerName"] for l in first["Layers"]]
    report["page_2"] = [l["LayerName"] for l in second["Layers"]]
    report["page_2_next"] = second.get("NextMarker")
    pages = lam.get_paginator("list_layer_versions").paginate(
        LayerName="deps", PaginationConfig={"PageSize": 1}
    )
    report["paginated_versions"] = [
        [v["Version"] for v in page["LayerVersions"]] for page in pages
    ]
    # Deleted: gone from the lists and reads; deleting again is no error; numbers go on.
    report["delete"] = raised(lam, "delete_layer_version", LayerName="deps", VersionNumber=1)
    report["delete_again"] = raised(lam, "delete_layer_version", LayerName="deps", VersionNumber=1)
    report["delete_never"] = raised(lam, "delete_layer_version", LayerName="never", VersionNumber=7)
    report["get_deleted"] = raised(lam, "get_layer_version", LayerName="deps", VersionNumber=1)
    report["after_delete"] = [
        v["Version"] for v in lam.list_layer_versions(LayerName="deps")["LayerVersions"]
    ]
    report["v3"] = lam.publish_layer_version(LayerName="deps", Content={"ZipFile": one})["Version"]
    lam.delete_layer_version(LayerName="deps", VersionNumber=2)
    lam.delete_layer_version(LayerName="deps", VersionNumber=3)
    report["all_deleted"] = [l["LayerName"] for l in lam.list_layers()["Layers"]]
    report["v4"] = lam.publish_layer_version(LayerName="deps", Content={"ZipFile": one})["Version"]
    return report


HANDLER = """\
import greeting
def handler(event, context):
    import importlib, sys
    extra = None
    try:
        import extra as extra_module
        extra = extra_module.VALUE
    except ImportError:
        pass
    return {"greeting": greeting.VALUE, "extra": extra, "path": sys.path[:8]}
"""


def invoke(lam, **kwargs):
    response = lam.invoke(**kwargs)
    payload = json.loads(response["Payload"].read())
    return {
        "status": response["StatusCode"],
        "function_error": response.get("FunctionError"),
        "version": response.get("ExecutedVersion"),
        "payload": payload,
    }


def function(lam):
    one = lam.publish_layer_version(
        LayerName="greetings", Content={"ZipFile": module_layer("greeting", "from layer v1")}
    )
    two = lam.publish_layer_version(
        LayerName="greetings", Content={"ZipFile": module_layer("greeting", "from layer v2")}
    )
    extra = lam.publish_layer_version(
        LayerName="extras", Content={"ZipFile": module_layer("extra", "extra")}
    )
    code = zip_of({"app.py": HANDLER})
    report = {"one": one["LayerVersionArn"], "two": two["LayerVersionArn"]}
    created = lam.create_function(
        FunctionName="greeter",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code},
        Timeout=30,
        Layers=[one["LayerVersionArn"]],
    )
    report["created_layers"] = created["Layers"]
    lam.get_waiter("function_active_v2").wait(FunctionName="greeter")
    report["first"] = invoke(lam, FunctionName="greeter")
    updated = lam.update_function_configuration(
        FunctionName="greeter", Layers=[two["LayerVersionArn"], extra["LayerVersionArn"]]
    )
    report["updated_layers"] = updated["Layers"]
    lam.get_waiter("function_updated_v2").wait(FunctionName="greeter")
    report["second"] = invoke(lam, FunctionName="greeter")
    report["configuration_layers"] = lam.get_function_configuration(FunctionName="greeter")[
        "Layers"
    ]
    report["get_function_layers"] = lam.get_function(FunctionName="greeter")["Configuration"][
        "Layers"
    ]
    # Published: the version keeps the layers, whatever `$LATEST` gets next.
    published = lam.publish_version(FunctionName="greeter")
    report["published_version"] = published["Version"]
    report["published_layers"] = published["Layers"]
    lam.update_function_configuration(FunctionName="greeter", Layers=[one["LayerVersionArn"]])
    lam.get_waiter("function_updated_v2").wait(FunctionName="greeter")
    report["latest_back_to_one"] = invoke(lam, FunctionName="greeter")
    report["version_keeps_two"] = invoke(
        lam, FunctionName="greeter", Qualifier=published["Version"]
    )
    # The layer version in use is deleted: the function keeps its copy, in new environments
    # too (a settings update starts them), and may keep naming it; a new function may not.
    lam.delete_layer_version(LayerName="greetings", VersionNumber=1)
    lam.update_function_configuration(
        FunctionName="greeter", Layers=[one["LayerVersionArn"]], Description="after delete"
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName="greeter")
    report["after_delete"] = invoke(lam, FunctionName="greeter")
    report["create_with_deleted"] = raised(
        lam,
        "create_function",
        FunctionName="late",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code},
        Layers=[one["LayerVersionArn"]],
    )
    # No layers: the module is gone.
    lam.update_function_configuration(FunctionName="greeter", Layers=[])
    lam.get_waiter("function_updated_v2").wait(FunctionName="greeter")
    report["no_layers"] = invoke(lam, FunctionName="greeter")
    report["no_layers_configuration"] = "Layers" in lam.get_function_configuration(
        FunctionName="greeter"
    )
    return report


def refusals(lam, function_name):
    ok = lam.publish_layer_version(
        LayerName="fine", Content={"ZipFile": module_layer("fine", 1)}
    )["LayerVersionArn"]

    def publish(**given):
        """What a PublishLayerVersion of `fine` with `given` raises."""
        request = {"LayerName": "fine", "Content": {"ZipFile": module_layer("fine", 3)}}
        return raised(lam, "publish_layer_version", **{**request, **given})

    report = {
        "get_unknown_layer": raised(lam, "get_layer_version", LayerName="nope", VersionNumber=1),
        "get_unknown_version": raised(lam, "get_layer_version", LayerName="fine", VersionNumber=9),
        "by_arn_unknown": raised(lam, "get_layer_version_by_arn", Arn=f"{ARN}:fine:9"),
        "by_arn_other_account": raised(
            lam,
            "get_layer_version_by_arn",
            Arn="arn:aws:lambda:us-east-1:210987654321:layer:fine:1",
        ),
        "by_arn_malformed": raised(lam, "get_layer_version_by_arn", Arn=f"{ARN}:fine"),
        "bad_name": publish(LayerName="bad name"),
        "long_name": publish(LayerName="a" * 141),
        "other_account_name": publish(
            LayerName="arn:aws:lambda:us-east-1:210987654321:layer:fine"
        ),
        "bad_zip": publish(Content={"ZipFile": b"not a zip"}),
        "escaping_zip": publish(Content={"ZipFile": zip_of({"../outside.py": "x = 1\n"})}),
        "s3": publish(Content={"S3Bucket": "bucket", "S3Key": "layer.zip"}),
        "bad_runtime": publish(CompatibleRuntimes=["Python 3"]),
        "bad_architecture": publish(CompatibleArchitectures=["sparc"]),
        "long_description": publish(Description="d" * 257),
        "list_bad_runtime": raised(lam, "list_layers", CompatibleRuntime="Python 3"),
        "list_bad_marker": raised(lam, "list_layers", Marker="not-a-marker"),
    }
    # After all the refusals, the next version is 2: none of them published anything.
    report["next_version"] = lam.publish_layer_version(
        LayerName="fine", Content={"ZipFile": module_layer("fine", 4)}
    )["Version"]

    def update(layers):
        return raised(
            lam, "update_function_configuration", FunctionName=function_name, Layers=layers
        )

    report["six_layers"] = update([ok] * 6)
    report["malformed_arn"] = update([f"{ARN}:fine"])
    report["unknown_arn"] = update([f"{ARN}:fine:9"])
    report["other_region"] = update(["arn:aws:lambda:eu-west-1:123456789012:layer:fine:1"])
    report["other_account"] = update(["arn:aws:lambda:us-east-1:210987654321:layer:fine:1"])
    report["two_versions"] = update([ok, f"{ARN}:fine:2"])
    report["configuration_unchanged"] = lam.get_function_configuration(
        FunctionName=function_name
    ).get("Layers")
    report["create_six"] = raised(
        lam,
        "create_function",
        FunctionName="six",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": HANDLER})},
        Layers=[ok] * 6,
    )
    report["six_created"] = raised(lam, "get_function", FunctionName="six")
    return report


def size(lam):
    """Two layers of 140 MB of zeros: together over the limit with any code."""
    big = zeros_zip("data/big.bin", 140_000_000)
    a = lam.publish_layer_version(LayerName="big-a", Content={"ZipFile": big})["LayerVersionArn"]
    b = lam.publish_layer_version(LayerName="big-b", Content={"ZipFile": big})["LayerVersionArn"]
    code = zip_of({"app.py": HANDLER})

    def create(name, layers):
        return dict(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": code},
            Layers=layers,
        )

    report = {"layer_a": a, "small_package_bytes": len(HANDLER.encode())}
    report["create_both"] = raised(lam, "create_function", **create("both", [a, b]))
    report["both_created"] = raised(lam, "get_function", FunctionName="both")
    lam.create_function(**create("one", [a]))
    before = lam.get_function_configuration(FunctionName="one")
    report["sha_before"] = before["CodeSha256"]
    report["revision_before"] = before["RevisionId"]
    report["update_both"] = raised(
        lam, "update_function_configuration", FunctionName="one", Layers=[a, b]
    )
    report["update_code"] = raised(
        lam,
        "update_function_code",
        FunctionName="one",
        ZipFile=zeros_zip("bootstrap", 130_000_000),
    )
    after = lam.get_function_configuration(FunctionName="one")
    report["layers_after"] = [layer["Arn"] for layer in after.get("Layers", [])]
    report["sha_after"] = after["CodeSha256"]
    report["revision_after"] = after["RevisionId"]
    return report


def permissions(lam):
    lam.publish_layer_version(LayerName="shared", Content={"ZipFile": module_layer("s", 1)})

    def add(sid, version=1, action="lambda:GetLayerVersion", principal="*", **given):
        return lam.add_layer_version_permission(
            LayerName="shared",
            VersionNumber=version,
            StatementId=sid,
            Action=action,
            Principal=principal,
            **given,
        )

    def refused(operation, **given):
        return raised(lam, operation, LayerName="shared", **{"VersionNumber": 1, **given})

    report = {}
    added = add("xaccount", principal="210987654321")
    report["added_statement"] = json.loads(added["Statement"])
    report["added_revision"] = added["RevisionId"]
    org = add("org", OrganizationId="o-a1b2c3d4e5", RevisionId=added["RevisionId"])
    policy = lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    report["policy"] = json.loads(policy["Policy"])
    report["policy_revision"] = policy["RevisionId"]
    report["org_revision"] = org["RevisionId"]
    adding = dict(Action="lambda:GetLayerVersion", Principal="*")
    report["duplicate"] = refused("add_layer_version_permission", StatementId="org", **adding)
    report["bad_action"] = refused(
        "add_layer_version_permission",
        StatementId="invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
    )
    report["stale_add"] = refused(
        "add_layer_version_permission",
        StatementId="late",
        RevisionId=added["RevisionId"],
        **adding,
    )
    report["missing_version"] = refused(
        "add_layer_version_permission", VersionNumber=5, StatementId="x", **adding
    )
    report["stale_remove"] = refused(
        "remove_layer_version_permission", StatementId="org", RevisionId="stale"
    )
    report["remove_unknown"] = refused("remove_layer_version_permission", StatementId="nope")
    lam.remove_layer_version_permission(
        LayerName="shared", VersionNumber=1, StatementId="org", RevisionId=policy["RevisionId"]
    )
    lam.remove_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="xaccount")
    report["no_policy"] = refused("get_layer_version_policy")
    report["policy_of_missing"] = refused("get_layer_version_policy", VersionNumber=5)
    return report


def main():
    endpoint, group = sys.argv[1], sys.argv[2]
    lam = client(endpoint)
    if group == "lifecycle":
        report = lifecycle(lam)
    elif group == "function":
        report = function(lam)
    elif group == "refusals":
        report = refusals(lam, sys.argv[3])
    elif group == "permissions":
        report = permissions(lam)
    elif group == "size":
        report = size(lam)
    else:
        raise SystemExit(f"unknown group {group}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
