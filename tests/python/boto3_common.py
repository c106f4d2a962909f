"""What the boto3 scripts share: the Lambda client, and the descriptions of what boto3 returned
or raised that the Rust tests assert on."""

import base64

import boto3
import botocore.config
import botocore.exceptions


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


def without_metadata(response):
    """A control-plane response without boto3's `ResponseMetadata`."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}
