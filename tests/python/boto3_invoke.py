#!/usr/bin/env python3
"""boto3 as the caller of the Firebox emulator's Invoke API, for tests/tests/boto3_caller.rs.

Usage: boto3_invoke.py ENDPOINT GROUP, where GROUP is `service-errors` or `invokes`.
Runs the group's invokes with boto3's Lambda client against ENDPOINT and prints one JSON object
on stdout: for each case, what boto3 returned or raised (the Rust test asserts on it). It needs
only boto3; credentials and region come from the environment the test sets (dummy values).
Exits 0 when every case ran (whatever it observed), 1 on an unexpected failure of the script.
"""

import base64
import json
import sys

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
    try:
        response = lam.invoke(**kwargs)
    except botocore.exceptions.ClientError as error:
        modeled = getattr(lam.exceptions, error.response["Error"]["Code"], None)
        return {
            "exception": type(error).__name__,
            "is_modeled_class": modeled is not None and isinstance(error, modeled),
            "code": error.response["Error"]["Code"],
            "message": error.response["Error"].get("Message", ""),
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
        }
    return {"exception": None, "status": response["StatusCode"]}


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


GROUPS = {"service-errors": service_errors, "invokes": invokes}


def main(argv):
    if len(argv) != 2 or argv[1] not in GROUPS:
        print(f"usage: boto3_invoke.py ENDPOINT {{{'|'.join(GROUPS)}}}", file=sys.stderr)
        return 2
    results = GROUPS[argv[1]](client(argv[0]))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
