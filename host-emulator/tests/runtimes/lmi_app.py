"""Handlers for awslambdaric's multi-concurrent mode (AWS_LAMBDA_MAX_CONCURRENCY=N), where it
forks N worker processes in one environment.

`lmi_app.overlap` records its start and end (wall clock, pid) to the event's `record` file,
sleeps `sleep` seconds, and answers with its pid and its parent's pid.
"""
import os
import time


def _record(path, what, request_id):
    line = f"{what} {time.time():.6f} {os.getpid()} {request_id}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def overlap(event, context):
    _record(event["record"], "start", context.aws_request_id)
    time.sleep(event.get("sleep", 1))
    _record(event["record"], "end", context.aws_request_id)
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "max_concurrency": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"),
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
    }
