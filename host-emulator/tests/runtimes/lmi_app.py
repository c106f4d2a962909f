"""Handlers for awslambdaric's multi-concurrent mode (AWS_LAMBDA_MAX_CONCURRENCY=N), where it
forks N worker processes in one environment.

`lmi_app.overlap` records its start and end (wall clock, pid) to the event's `record` file,
waits at the event's `barrier` ({dir, count}: until `count` invocations have started, at most
60 s), sleeps `sleep` seconds, and answers with its pid and its parent's pid.
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
    spec = event.get("barrier")
    if spec:
        open(os.path.join(spec["dir"], context.aws_request_id), "w").close()
        deadline = time.monotonic() + 60
        while len(os.listdir(spec["dir"])) < spec["count"] and time.monotonic() < deadline:
            time.sleep(0.01)
    time.sleep(event.get("sleep", 1))
    _record(event["record"], "end", context.aws_request_id)
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "max_concurrency": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"),
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
    }
