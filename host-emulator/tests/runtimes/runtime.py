"""A Lambda runtime in Python 3 (standard library only) for the emulator's tests.

Usage: runtime.py [INIT_MODE]

With INIT_WAIT_FOR=PATH, Init first waits (at most 60 s) until the file PATH has as many
lines as this runtime has been started with that setting (each start adds a line to
PATH.starts): a test extension adds a line to PATH once it has subscribed to telemetry, so
that the Init it watches cannot end before.

With INIT_SLEEP=S, Init sleeps S seconds. With INIT_FAIL_IF_TMP=NAME, Init posts /init/error
(type TmpInitError) and exits 1 when the file NAME exists in TMPDIR. With
INIT_EXIT_ONCE=NAME, Init creates the file NAME in TMPDIR and exits 4 when it is not there
yet (the first Init of an environment crashes, the next one runs).

INIT_MODE decides how Init goes:
  (none)              initialise and serve events
  init_error          post /init/error, then exit 1
  exit_now            exit 3 at once
  never_next          print a line, then sleep forever without calling /next
  print_init          print two lines during Init, then serve
  print_events        print `EVENT <body>` for every event it gets
  ack_events          print `EVENT <body>` for every event it gets and answer `{"ok": true}`
                      (nothing else)
  internal_ext        register an internal extension `internal-ext` (INVOKE) served by a
                      thread that prints `[internal-ext] INVOKE <id>`; also try to register
                      one for SHUTDOWN and print `POST internal-shutdown <status> <errorType>`

Each event (a JSON object) says what to do, in this order:
  print: N            print N numbered lines to stdout
  lines: [TEXT, ...]  print each TEXT as a line to stdout, verbatim
  stderr: TEXT        print TEXT to stderr
  partial: TEXT       write TEXT to stdout with no newline after it
  partial_after: TEXT after answering, write TEXT to stdout with no newline after it
  print_trace: true   print `TRACE <Lambda-Runtime-Trace-Id>`
  barrier: {dir, count}  create a file in dir, then wait until count files exist there
                      (at most 60 s): go on only once `count` invocations have started
  wait_for: PATH      wait until PATH exists (at most 60 s)
  sleep: S            sleep S seconds
  alloc_mb: N         allocate and touch N MB (kept until exit)
  touch_tmp: NAME     create the file NAME in TMPDIR
  read_file: PATH     read PATH (its text, or `error: <exception name>`) into the answer
  spawn_child: true   start `sleep 1000` in the background (same process group)
  exit: CODE          exit with CODE during the invoke
  kill: SIGNAL        send SIGNAL to itself
  unknown_id: true    first post a response for an unknown request id
  fail_times: N       post /error (type Flaky) while this process has served at most N events
  fail_unless_env: NAME  post /error (type Flaky) unless the variable NAME is set
  error: {type, message}    post /error with a JSON document and the type header
  error_header_only: TYPE   post /error with no body, only the header
  error_garbage: TYPE       post /error with a body that is not JSON
  error_raw: {type, content_type, body}  post /error with this body (text), Content-Type and
                      type header; print `POST error_raw <status>`
  big_error: N        post /error with a JSON document whose errorMessage has N characters;
                      print `POST big_error <status> <body>`
  big: N              respond with a JSON string of N characters
  twice: true         after responding, respond again for the same id
Otherwise it responds with a description of the event, headers and process (with the names
of the files in TMPDIR).
The result of every extra post is printed as `POST <what> <status> <body>`.
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"
conn = http.client.HTTPConnection(API)
kept = []
count = 0


def request(method, path, body=None, headers=None):
    conn.request(method, BASE + path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, resp.getheaders(), data


def post(path, body, headers=None):
    if isinstance(body, (dict, list, str)) and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return request("POST", path, body=body, headers=headers)


def wait_for_subscriber():
    path = os.environ.get("INIT_WAIT_FOR")
    if not path:
        return
    with open(path + ".starts", "a") as f:
        f.write("start\n")
    with open(path + ".starts") as f:
        starts = len(f.read().splitlines())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                if len(f.read().splitlines()) >= starts:
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.01)


def init():
    wait_for_subscriber()
    if "INIT_SLEEP" in os.environ:
        time.sleep(float(os.environ["INIT_SLEEP"]))
    exit_once = os.environ.get("INIT_EXIT_ONCE")
    if exit_once and not os.path.exists(os.path.join(os.environ["TMPDIR"], exit_once)):
        open(os.path.join(os.environ["TMPDIR"], exit_once), "w").close()
        print("the first Init crashes", flush=True)
        sys.exit(4)
    fail_if = os.environ.get("INIT_FAIL_IF_TMP")
    if fail_if and os.path.exists(os.path.join(os.environ["TMPDIR"], fail_if)):
        status, _, body = post(
            "/init/error",
            {"errorType": "TmpInitError", "errorMessage": f"{fail_if} is in TMPDIR"},
            {"Lambda-Runtime-Function-Error-Type": "TmpInitError"},
        )
        print("POST init/error", status, body.decode(), flush=True)
        sys.exit(1)
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "init_error":
        status, _, body = post(
            "/init/error",
            {"errorType": "MyInitError", "errorMessage": "cannot initialise"},
            {"Lambda-Runtime-Function-Error-Type": "MyInitError"},
        )
        print("POST init/error", status, body.decode(), flush=True)
        sys.exit(1)
    if mode == "exit_now":
        print("exiting at once", flush=True)
        sys.exit(3)
    if mode == "never_next":
        print("never calling next", flush=True)
        while True:
            time.sleep(3600)
    if mode == "print_init":
        print("init line 1", flush=True)
        print("init line 2", flush=True)
    if mode == "internal_ext":
        internal_extension()


def internal_extension():
    import threading

    def call(method, path, body=None, headers=None):
        c = http.client.HTTPConnection(API)
        c.request(method, "/2020-01-01/extension" + path, body=body, headers=headers or {})
        resp = c.getresponse()
        data = resp.read()
        c.close()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data

    status, _, data = call("POST", "/register", json.dumps({"events": ["SHUTDOWN"]}),
                           {"Lambda-Extension-Name": "internal-shutdown"})
    print("POST internal-shutdown", status, json.loads(data).get("errorType"), flush=True)
    status, headers, _ = call("POST", "/register", json.dumps({"events": ["INVOKE"]}),
                              {"Lambda-Extension-Name": "internal-ext"})
    print("POST internal-ext", status, flush=True)
    ext_id = headers["lambda-extension-identifier"]

    def serve():
        while True:
            status, _, data = call("GET", "/event/next", headers={"Lambda-Extension-Identifier": ext_id})
            if status != 200:
                return
            print("[internal-ext] INVOKE", json.loads(data)["requestId"], flush=True)

    threading.Thread(target=serve, daemon=True).start()


def handle(request_id, headers, event):
    global count
    count += 1
    if not isinstance(event, dict):
        event = {}
    for i in range(event.get("print", 0)):
        print(f"line {i}")
    for line in event.get("lines", []):
        print(line)
    sys.stdout.flush()
    if "stderr" in event:
        print(event["stderr"], file=sys.stderr, flush=True)
    if "partial" in event:
        sys.stdout.write(event["partial"])
        sys.stdout.flush()
    if event.get("print_trace"):
        trace = [v for k, v in headers if k.lower() == "lambda-runtime-trace-id"]
        print("TRACE", *trace, flush=True)
    if "barrier" in event:
        spec = event["barrier"]
        open(os.path.join(spec["dir"], request_id), "w").close()
        deadline = time.monotonic() + 60
        while len(os.listdir(spec["dir"])) < spec["count"] and time.monotonic() < deadline:
            time.sleep(0.01)
    if "wait_for" in event:
        deadline = time.monotonic() + 60
        while not os.path.exists(event["wait_for"]) and time.monotonic() < deadline:
            time.sleep(0.01)
    if "sleep" in event:
        time.sleep(event["sleep"])
    if "alloc_mb" in event:
        block = bytearray(event["alloc_mb"] * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        kept.append(block)
    if "touch_tmp" in event:
        open(os.path.join(os.environ["TMPDIR"], event["touch_tmp"]), "w").close()
    child = None
    if event.get("spawn_child"):
        child = subprocess.Popen(["sleep", "1000"]).pid
    if "exit" in event:
        os._exit(event["exit"])
    if "kill" in event:
        os.kill(os.getpid(), getattr(signal, event["kill"]))
        time.sleep(5)
    if event.get("unknown_id"):
        status, _, body = post("/invocation/not-a-real-id/response", {"x": 1})
        print("POST unknown", status, body.decode(), flush=True)
    if "fail_unless_env" in event and event["fail_unless_env"] not in os.environ:
        post(f"/invocation/{request_id}/error",
             {"errorType": "Flaky", "errorMessage": f"{event['fail_unless_env']} is not set"},
             {"Lambda-Runtime-Function-Error-Type": "Flaky"})
        return
    if count <= event.get("fail_times", 0):
        post(f"/invocation/{request_id}/error",
             {"errorType": "Flaky", "errorMessage": f"attempt {count} fails"},
             {"Lambda-Runtime-Function-Error-Type": "Flaky"})
        return
    if "error" in event:
        e = event["error"]
        status, _, _ = post(
            f"/invocation/{request_id}/error",
            {"errorType": e["type"], "errorMessage": e["message"], "stackTrace": ["here"]},
            {"Lambda-Runtime-Function-Error-Type": e["type"]},
        )
        print("POST error", status, flush=True)
        return
    if "error_header_only" in event:
        post(f"/invocation/{request_id}/error", b"",
             {"Lambda-Runtime-Function-Error-Type": event["error_header_only"]})
        return
    if "error_garbage" in event:
        post(f"/invocation/{request_id}/error", b"this is not json",
             {"Lambda-Runtime-Function-Error-Type": event["error_garbage"]})
        return
    if "error_raw" in event:
        e = event["error_raw"]
        status, _, _ = post(f"/invocation/{request_id}/error", e["body"].encode(),
                            {"Lambda-Runtime-Function-Error-Type": e["type"],
                             "Content-Type": e["content_type"]})
        print("POST error_raw", status, flush=True)
        return
    if "big_error" in event:
        status, _, body = post(f"/invocation/{request_id}/error",
                               {"errorType": "Huge", "errorMessage": "x" * event["big_error"]},
                               {"Lambda-Runtime-Function-Error-Type": "Huge"})
        print("POST big_error", status, body.decode(), flush=True)
        return
    if "big" in event:
        status, _, body = post(f"/invocation/{request_id}/response", "x" * event["big"])
        print("POST big", status, body.decode(), flush=True)
        return
    result = {
        "event": event,
        "request_id": request_id,
        "headers": {k.lower(): v for k, v in headers if k.lower().startswith("lambda-runtime") or k.lower() == "content-type"},
        "pid": os.getpid(),
        "count": count,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "child": child,
        "tmp_files": sorted(os.listdir(os.environ["TMPDIR"])),
        "uid": os.getuid(),
    }
    if "read_file" in event:
        try:
            with open(event["read_file"]) as f:
                result["read"] = f.read().strip()
        except OSError as e:
            result["read"] = f"error: {type(e).__name__}"
    status, _, body = post(f"/invocation/{request_id}/response", result)
    if status != 202:
        print("POST response", status, body.decode(), flush=True)
    if "partial_after" in event:
        sys.stdout.write(event["partial_after"])
        sys.stdout.flush()
    if event.get("twice"):
        status, _, body = post(f"/invocation/{request_id}/response", {"again": True})
        print("POST twice", status, body.decode(), flush=True)


def main():
    init()
    while True:
        status, headers, body = request("GET", "/invocation/next")
        if status != 200:
            print("next failed", status, body.decode(), flush=True)
            sys.exit(1)
        request_id = dict((k.lower(), v) for k, v in headers)["lambda-runtime-aws-request-id"]
        if len(sys.argv) > 1 and sys.argv[1] == "print_events":
            print("EVENT", body.decode(), flush=True)
        if len(sys.argv) > 1 and sys.argv[1] == "ack_events":
            print("EVENT", body.decode(), flush=True)
            post(f"/invocation/{request_id}/response", {"ok": True})
            continue
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        handle(request_id, headers, event)


main()
