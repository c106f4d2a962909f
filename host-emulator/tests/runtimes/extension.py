#!/usr/bin/env python3
"""An external Lambda extension in Python 3 (standard library only) for the emulator's tests.

It registers under its own file name (tests start it through differently named symlinks) and
prints one line per step, prefixed with `[NAME]`. What it does comes from the variable
EXT_MODE_<NAME> (NAME upper-cased, `-` as `_`), else EXT_MODE:
  normal        register for INVOKE and SHUTDOWN, print each event, exit 0 after SHUTDOWN
  gated         like normal, but after each INVOKE wait until the file EXT_GATE exists (at
                most 60 s) before calling next
  hang          like normal, but never call next again after the first INVOKE
  ignore_shutdown  like normal, but on SHUTDOWN print `[NAME] SHUTDOWN <reason> ignored by
                pid <pid>` and sleep, neither calling next nor exiting
  crash_init    register, then exit 2 before calling next
  init_error    register, post init/error (Extension.ConfigError), exit 1
  crash_invoke  exit 3 on the first INVOKE
  crash_after   on the first INVOKE, sleep EXT_CRASH_AFTER_S seconds (default 0.5), then exit 3
  exit_error    on the first INVOKE, post exit/error (Extension.Boom), call next once and print
                `PROBE after_exit_error <status> <errorType>`, then exit 4
  double_next   register for SHUTDOWN only (so that no INVOKE answers the first next), call
                next from two connections at once and print
                `PROBE double_next <status> <errorType>` for the second
  no_register   print a line and sleep without registering
  no_next       register, then sleep without calling next
  probe         make bad calls first and print `PROBE <case> <status> <errorType>` for each
  telemetry     like normal, but first serve HTTP on 127.0.0.1 and subscribe to the Telemetry
                API (platform, function and extension records, destination
                sandbox.localdomain); every record received is appended as a JSON line to the
                file EXT_TELEMETRY_OUT. Bad subscriptions are probed first (`PROBE <case> <status> <errorType>`).
                The buffering timeout is EXT_TELEMETRY_TIMEOUT_MS (default 25); the types are
                EXT_TELEMETRY_TYPES (comma-separated; default platform,function,extension).
                While the file EXT_TELEMETRY_HOLD exists (when set), a batch is held: it is
                neither read nor answered (at most 60 s). While the file EXT_TELEMETRY_REFUSE
                exists (when set), a batch is answered 500 and not kept (a line `refused N`, N
                records, is appended to EXT_TELEMETRY_OUT.refused)
  telemetry_tcp like normal, but first listen on TCP on 127.0.0.1 and subscribe with protocol
                TCP through the API EXT_TELEMETRY_API (`telemetry`, the default, or `logs`),
                with schemaVersion EXT_TELEMETRY_SCHEMA (default 2022-12-13, or 2021-03-18);
                the lines read from the Nth connection are appended, as received, to the file
                EXT_TELEMETRY_OUT.N. With EXT_TCP_CLOSE_AFTER=TYPE, the first connection is
                closed after a record of that type (printing `closed connection 1`). Bad TCP
                destinations are probed first (`PROBE <case> <status> <errorType> <errorMessage>`).
                With EXT_TCP_RESUBSCRIBE set, the good subscription is made twice (`subscribed
                again API STATUS`), then once through the other API (`PROBE other_api ...`)

In the two telemetry modes, each subscription appends a line to the file EXT_SUBSCRIBED (when
set), and SHUTDOWN appends `{"type": "SHUTDOWN received", "record": {"shutdownReason": REASON}}`
to EXT_TELEMETRY_OUT.
"""
import http.client
import json
import uuid
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
        ("next_invalid_id", lambda: call("GET", "/event/next", headers={"Lambda-Extension-Identifier": "nope"})),
        ("next_unknown_id", lambda: call("GET", "/event/next",
                                         headers={"Lambda-Extension-Identifier": str(uuid.uuid4())})),
    ]
    for case, run in cases:
        status, _, data = run()
        print("PROBE", case, status, error_type(data), flush=True)


def subscribe(ext_id):
    import http.server
    import threading

    out = os.environ["EXT_TELEMETRY_OUT"]

    hold = os.environ.get("EXT_TELEMETRY_HOLD")
    refuse = os.environ.get("EXT_TELEMETRY_REFUSE")

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            deadline = time.monotonic() + 60
            while hold and os.path.exists(hold) and time.monotonic() < deadline:
                time.sleep(0.01)
            batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if refuse and os.path.exists(refuse):
                with open(out + ".refused", "a") as f:
                    f.write(f"refused {len(batch)}\n")
                self.send_response(500)
                self.end_headers()
                return
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

    types = os.environ.get("EXT_TELEMETRY_TYPES", "platform,function,extension").split(",")
    good = {
        "schemaVersion": "2022-12-13",
        "types": types,
        "buffering": {"maxItems": 1000, "maxBytes": 262144,
                      "timeoutMs": int(os.environ.get("EXT_TELEMETRY_TIMEOUT_MS", "25"))},
        "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}/telemetry"},
    }
    status, data = put(dict(good, buffering={"maxItems": 5}), ext_id)
    print("PROBE telemetry_bad_buffering", status, error_type(data), flush=True)
    status, data = put(good, None)
    print("PROBE telemetry_no_id", status, error_type(data), flush=True)
    status, data = put(good, "nope")
    print("PROBE telemetry_invalid_id", status, error_type(data), flush=True)
    status, data = put(good, str(uuid.uuid4()))
    print("PROBE telemetry_unknown_id", status, error_type(data), flush=True)
    status, data = put(good, ext_id)
    say("subscribed", status)
    subscribed()


def subscribed():
    """Tells the test runtime (waiting with INIT_WAIT_FOR) that a subscription was made."""
    flag = os.environ.get("EXT_SUBSCRIBED")
    if flag:
        with open(flag, "a") as f:
            f.write("subscribed\n")


def tcp_listener():
    """Listens on TCP; returns the port. Each connection is read in its own thread."""
    import socket
    import threading

    out = os.environ["EXT_TELEMETRY_OUT"]
    close_after = os.environ.get("EXT_TCP_CLOSE_AFTER")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()

    def read(conn, n):
        stream = conn.makefile("rb")
        with open(f"{out}.{n}", "ab") as sink:
            for line in stream:
                sink.write(line)
                sink.flush()
                if close_after and n == 1 and json.loads(line).get("type") == close_after:
                    conn.shutdown(socket.SHUT_RDWR)
                    stream.close()
                    conn.close()
                    say("closed connection", n)
                    return

    def accept():
        n = 0
        while True:
            conn, _ = server.accept()
            n += 1
            threading.Thread(target=read, args=(conn, n), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return server.getsockname()[1]


def subscribe_tcp(ext_id):
    port = tcp_listener()
    api = os.environ.get("EXT_TELEMETRY_API", "telemetry")
    path, version = {"telemetry": ("/2022-07-01/telemetry", "2022-12-13"),
                     "logs": ("/2020-08-15/logs", "2021-03-18")}[api]
    version = os.environ.get("EXT_TELEMETRY_SCHEMA", version)

    def put(destination):
        body = {
            "schemaVersion": version,
            "types": ["platform", "function", "extension"],
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
            "destination": destination,
        }
        conn = http.client.HTTPConnection(API)
        conn.request("PUT", path, json.dumps(body), {"Lambda-Extension-Identifier": ext_id})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    for case, destination in [
        ("tcp_no_port", {"protocol": "TCP", "URI": "tcp://sandbox.localdomain"}),
        ("tcp_http_uri", {"protocol": "TCP", "URI": f"http://sandbox.localdomain:{port}"}),
        ("tcp_path", {"protocol": "TCP", "URI": f"tcp://sandbox.localdomain:{port}/logs"}),
        ("http_tcp_uri", {"protocol": "HTTP", "URI": f"tcp://sandbox.localdomain:{port}"}),
        ("udp", {"protocol": "UDP", "URI": f"udp://sandbox.localdomain:{port}"}),
        ("tcp_big_port", {"protocol": "TCP", "URI": "tcp://sandbox.localdomain:99999"}),
        ("http_big_port", {"protocol": "HTTP", "URI": "http://sandbox.localdomain:99999/"}),
    ]:
        status, data = put(destination)
        doc = json.loads(data) if status != 200 else {}
        print("PROBE", case, status, doc.get("errorType"), doc.get("errorMessage"), flush=True)
    status, _ = put({"protocol": "TCP", "URI": f"tcp://sandbox.localdomain:{port}"})
    say("subscribed", api, status)
    if os.environ.get("EXT_TCP_RESUBSCRIBE"):
        # The same subscription again (it replaces the first), then one through the other API.
        status, _ = put({"protocol": "TCP", "URI": f"tcp://sandbox.localdomain:{port}"})
        say("subscribed again", api, status)
        path, version = {"telemetry": ("/2020-08-15/logs", "2021-03-18"),
                         "logs": ("/2022-07-01/telemetry", "2022-12-13")}[api]
        status, data = put({"protocol": "TCP", "URI": f"tcp://sandbox.localdomain:{port}"})
        doc = json.loads(data) if status != 200 else {}
        print("PROBE other_api", status, doc.get("errorType"), doc.get("errorMessage"), flush=True)
    subscribed()


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
    if MODE == "no_next":
        say("not calling next")
        time.sleep(3600)
    if MODE == "telemetry":
        subscribe(ext_id)
    if MODE == "telemetry_tcp":
        subscribe_tcp(ext_id)
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
            if MODE.startswith("telemetry"):
                mark = {"type": "SHUTDOWN received", "record": {"shutdownReason": event["shutdownReason"]}}
                with open(os.environ["EXT_TELEMETRY_OUT"], "a") as f:
                    f.write(json.dumps(mark) + "\n")
            if MODE == "ignore_shutdown":
                say("SHUTDOWN", event["shutdownReason"], "ignored by pid", os.getpid())
                while True:
                    time.sleep(3600)
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
        if MODE == "crash_after":
            time.sleep(float(os.environ.get("EXT_CRASH_AFTER_S", "0.5")))
            say("crashing after the answer")
            sys.exit(3)
        if MODE == "exit_error":
            say("exit/error", report_error(ext_id, "/exit/error", "Extension.Boom", "lost my config"))
            # No further call succeeds after exit/error (at most 2 s, should one wait).
            conn = http.client.HTTPConnection(API, timeout=2)
            try:
                conn.request("GET", BASE + "/event/next",
                             headers={"Lambda-Extension-Identifier": ext_id})
                resp = conn.getresponse()
                print("PROBE after_exit_error", resp.status, error_type(resp.read()), flush=True)
            except OSError as e:
                print("PROBE after_exit_error no answer", type(e).__name__, flush=True)
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
