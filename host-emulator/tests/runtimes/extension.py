#!/usr/bin/env python3
"""An external Lambda extension in Python 3 (standard library only) for the emulator's tests.

It registers under its own file name (tests start it through differently named symlinks) and
prints one line per step, prefixed with `[NAME]`. What it does comes from the variable
EXT_MODE_<NAME> (NAME upper-cased, `-` as `_`), else EXT_MODE:
  normal        register for INVOKE and SHUTDOWN, print each event, exit 0 after SHUTDOWN
  gated         like normal, but after each INVOKE wait until the file EXT_GATE exists (at
                most 60 s) before calling next
  hang          like normal, but never call next again after the first INVOKE
  crash_init    register, then exit 2 before calling next
  init_error    register, post init/error (Extension.ConfigError), exit 1
  crash_invoke  exit 3 on the first INVOKE
  exit_error    on the first INVOKE, post exit/error (Extension.Boom), then exit 4
  double_next   register for SHUTDOWN only (so that no INVOKE answers the first next), call
                next from two connections at once and print
                `PROBE double_next <status> <errorType>` for the second
  no_register   print a line and sleep without registering
  probe         make bad calls first and print `PROBE <case> <status> <errorType>` for each
  telemetry     like normal, but first serve HTTP on 127.0.0.1 and subscribe to the Telemetry
                API (platform, function and extension records, destination
                sandbox.localdomain); every record received is appended as a JSON line to the
                file EXT_TELEMETRY_OUT. Bad subscriptions are probed first (`PROBE <case> <status> <errorType>`)
"""
import http.client
import json
import os
import sys
import time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2020-01-01/extension"
NAME = os.path.basename(sys.argv[0])
MODE = os.environ.get("EXT_MODE_" + NAME.upper().replace("-", "_"), os.environ.get("EXT_MODE", "normal"))


def say(*parts):
    print(f"[{NAME}]", *parts, flush=True)


def call(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(API)
    conn.request(method, BASE + path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data


def error_type(data):
    try:
        return json.loads(data).get("errorType")
    except ValueError:
        return None


def register(name=NAME, events=("INVOKE", "SHUTDOWN"), extra=None):
    headers = {"Lambda-Extension-Name": name}
    headers.update(extra or {})
    return call("POST", "/register", json.dumps({"events": list(events)}), headers)


def next_event(ext_id):
    return call("GET", "/event/next", headers={"Lambda-Extension-Identifier": ext_id})


def report_error(ext_id, path, kind, message):
    """Posts init/error or exit/error with an error document; returns the status."""
    status, _, _ = call("POST", path, json.dumps({"errorType": kind, "errorMessage": message}),
                        {"Lambda-Extension-Identifier": ext_id,
                         "Lambda-Extension-Function-Error-Type": kind})
    return status


def probe():
    cases = [
        ("no_name", lambda: call("POST", "/register", b'{"events":["INVOKE"]}')),
        ("bad_body", lambda: call("POST", "/register", b"not json", {"Lambda-Extension-Name": NAME})),
        ("bad_event", lambda: register(events=("INVOKE", "SNAPSHOT"))),
        ("next_no_id", lambda: call("GET", "/event/next")),
        ("next_unknown_id", lambda: call("GET", "/event/next", headers={"Lambda-Extension-Identifier": "nope"})),
    ]
    for case, run in cases:
        status, _, data = run()
        print("PROBE", case, status, error_type(data), flush=True)


def subscribe(ext_id):
    import http.server
    import threading

    out = os.environ["EXT_TELEMETRY_OUT"]

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with open(out, "a") as f:
                for record in batch:
                    f.write(json.dumps(record) + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    def put(body, ident):
        headers = {"Content-Type": "application/json"}
        if ident:
            headers["Lambda-Extension-Identifier"] = ident
        conn = http.client.HTTPConnection(API)
        conn.request("PUT", "/2022-07-01/telemetry", json.dumps(body), headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    good = {
        "schemaVersion": "2022-12-13",
        "types": ["platform", "function", "extension"],
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
        "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}/telemetry"},
    }
    status, data = put(dict(good, buffering={"maxItems": 5}), ext_id)
    print("PROBE telemetry_bad_buffering", status, error_type(data), flush=True)
    status, data = put(good, "nope")
    print("PROBE telemetry_unknown_id", status, error_type(data), flush=True)
    status, data = put(good, ext_id)
    say("subscribed", status)


def main():
    env = os.environ
    say("env", "handler=" + str(env.get("_HANDLER")), "task_root=" + str(env.get("LAMBDA_TASK_ROOT")),
        "function=" + str(env.get("AWS_LAMBDA_FUNCTION_NAME")))
    if MODE == "no_register":
        say("not registering")
        time.sleep(3600)
    if MODE == "probe":
        probe()
    say("registering")
    events = ("SHUTDOWN",) if MODE == "double_next" else ("INVOKE", "SHUTDOWN")
    status, headers, data = register(events=events, extra={"Lambda-Extension-Accept-Feature": "accountId"})
    say("registered", status, data.decode())
    ext_id = headers.get("lambda-extension-identifier")
    if MODE == "telemetry":
        subscribe(ext_id)
    if MODE == "probe":
        status, _, data = register()
        print("PROBE register_twice", status, error_type(data), flush=True)
        status, _, data = call("POST", "/init/error", b"{}", {"Lambda-Extension-Identifier": ext_id})
        print("PROBE init_error_no_type", status, error_type(data), flush=True)
    if MODE == "double_next":
        import threading
        threading.Thread(
            target=lambda: next_event(ext_id),
            daemon=True,
        ).start()
        time.sleep(0.3)
        status, _, data = next_event(ext_id)
        print("PROBE double_next", status, error_type(data), flush=True)
        time.sleep(3600)
    if MODE == "crash_init":
        say("crashing in init")
        sys.exit(2)
    if MODE == "init_error":
        say("init/error", report_error(ext_id, "/init/error", "Extension.ConfigError", "no config"))
        sys.exit(1)
    invokes = 0
    while True:
        status, headers, data = next_event(ext_id)
        if status != 200:
            say("next failed", status, data.decode())
            sys.exit(1)
        event = json.loads(data)
        if event["eventType"] == "SHUTDOWN":
            say("SHUTDOWN", event["shutdownReason"], "deadline_in_ms", event["deadlineMs"] - int(time.time() * 1000),
                "after", invokes, "invokes")
            sys.exit(0)
        invokes += 1
        say("INVOKE", event["requestId"], event["invokedFunctionArn"], event["tracing"]["value"][:5],
            "event_id=" + str(bool(headers.get("lambda-extension-event-identifier"))))
        if MODE == "probe":
            status, _, data = register(name="late-comer", events=("INVOKE",))
            print("PROBE register_after_init", status, error_type(data), flush=True)
        if MODE == "crash_invoke":
            say("crashing in invoke")
            sys.exit(3)
        if MODE == "exit_error":
            say("exit/error", report_error(ext_id, "/exit/error", "Extension.Boom", "lost my config"))
            sys.exit(4)
        if MODE == "hang":
            say("hanging")
            time.sleep(3600)
        if MODE == "gated":
            deadline = time.monotonic() + 60
            while not os.path.exists(os.environ["EXT_GATE"]) and time.monotonic() < deadline:
                time.sleep(0.01)
        say("done", event["requestId"])


main()
