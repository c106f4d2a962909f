"""A streaming Lambda runtime in Python 3 (standard library only) for the emulator's tests.

Usage: stream_runtime.py [events|url]

Streamed responses are written over a raw socket: chunked encoding, the response mode header,
and real HTTP trailers (Lambda-Runtime-Function-Error-Type / -Error-Body) on failure.

Mode `events`: each event (a JSON object) says what to do, in this order:
  print: TEXT               print TEXT to stdout
  buffered: VALUE           post VALUE as an ordinary (buffered) response and stop
  prelude: {...}            stream with the HTTP integration content type, prelude first
  content_type: CT          the stream's Content-Type (default application/octet-stream)
  chunks: [TEXT, ...]       stream these chunks
  repeat: [N, SIZE]         then stream N chunks of SIZE bytes (byte i % 251 at offset i)
  wait_file: PATH           after the first chunk, wait (up to 20 s) until PATH exists
  delay_ms: MS              pause between chunks
  fail: {type, message}     end the stream with error trailers
  no_trailer_decl: true     do not announce the trailers in a `Trailer` header
  next_before_end: true     call the next /next (on a connection of its own) before ending the
                            stream, as Node's aws-lambda-ric can after a failed stream; the
                            stream ends once the emulator has had 300 ms to receive that call
The status the emulator answered is printed as `STREAM <status>`.

Mode `url`: the event is a function URL event (payload format 2.0); its rawPath decides:
  /stream         prelude (201, text/event-stream, a cookie), `data: first`, then waits for the
                  file named by the query parameter `flag`, then `data: second`
  /stream-fail    prelude, one chunk, then error trailers
  /stream-plain   no prelude, Content-Type text/plain, two chunks
  /stream-fail-early  no prelude, nothing written, then error trailers (a handler that throws
                  at once, as Node's streamifyResponse reports it)
  /binary         a response object with a base64 body of bytes 0..255
  /bare           a bare JSON value
  /head-like      a response object with an empty body and `Content-Length: 82`, as a web
                  framework answers a HEAD (`/head-like-204`: the same with status 204)
  /fail           posts /error
  /notjson        responds with bytes that are not JSON
  /respond        posts the request body (base64-decoded when it came so) as its response
  /stream-body    streams the request body (decoded the same way) with the HTTP integration
                  content type, in one chunk: the test writes the prelude and the 8 NULs
  anything else   a response object echoing the event as JSON, with two cookies
"""
import base64
import http.client
import json
import os
import socket
import sys
import threading
import time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, PORT = API.rsplit(":", 1)
BASE = "/2018-06-01/runtime"
MODE = sys.argv[1] if len(sys.argv) > 1 else "events"
conn = http.client.HTTPConnection(API)


def request(method, path, body=None, headers=None):
    conn.request(method, BASE + path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, resp.getheaders(), resp.read()


class Stream:
    def __init__(self, request_id, content_type, declare_trailers=True):
        self.sock = socket.create_connection((HOST, int(PORT)))
        head = (
            f"POST {BASE}/invocation/{request_id}/response HTTP/1.1\r\n"
            f"Host: {API}\r\n"
            "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
            "Transfer-Encoding: chunked\r\n"
            f"Content-Type: {content_type}\r\n"
        )
        if declare_trailers:
            head += "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
        self.sock.sendall((head + "\r\n").encode())
        self.broken = False

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        if not data or self.broken:
            return
        try:
            self.sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
        except OSError:
            self.broken = True

    def finish(self, error=None):
        tail = b"0\r\n"
        if error:
            doc = json.dumps({"errorType": error["type"], "errorMessage": error["message"]})
            tail += b"Lambda-Runtime-Function-Error-Type: " + error["type"].encode() + b"\r\n"
            tail += b"Lambda-Runtime-Function-Error-Body: " + base64.b64encode(doc.encode()) + b"\r\n"
        tail += b"\r\n"
        try:
            if not self.broken:
                self.sock.sendall(tail)
        except OSError:
            pass
        answer = b""
        try:
            while b"\r\n" not in answer:
                part = self.sock.recv(65536)
                if not part:
                    break
                answer += part
        except OSError:
            pass
        self.sock.close()
        status = answer.split(b" ")[1].decode() if answer.count(b" ") >= 1 else "none"
        print("STREAM", status, flush=True)


def wait_for(path):
    for _ in range(2000):
        if os.path.exists(path):
            return
        time.sleep(0.01)


def handle_event(request_id, event):
    if not isinstance(event, dict):
        event = {}
    if "print" in event:
        print(event["print"], flush=True)
    if "buffered" in event:
        request("POST", f"/invocation/{request_id}/response", json.dumps(event["buffered"]).encode())
        return
    content_type = event.get("content_type", "application/octet-stream")
    if "prelude" in event:
        content_type = "application/vnd.awslambda.http-integration-response"
    s = Stream(request_id, content_type, not event.get("no_trailer_decl"))
    if "prelude" in event:
        s.write(json.dumps(event["prelude"]).encode() + b"\0" * 8)
    delay = event.get("delay_ms", 0) / 1000.0
    first = True
    chunks = [c.encode() for c in event.get("chunks", [])]
    if "repeat" in event:
        n, size = event["repeat"]
        block = bytes(i % 251 for i in range(size))
        chunks.extend([block] * n)
    for chunk in chunks:
        s.write(chunk)
        if first and "wait_file" in event:
            wait_for(event["wait_file"])
        first = False
        if delay:
            time.sleep(delay)
    if event.get("next_before_end"):
        early_next(s)
    s.finish(event.get("fail"))


EARLY = {}


def early_next(stream):
    """Starts the next /next on a connection of its own while `stream` is still open."""
    def call():
        c = http.client.HTTPConnection(API)
        c.request("GET", BASE + "/invocation/next")
        r = c.getresponse()
        EARLY["answer"] = (r.status, r.getheaders(), r.read())
    EARLY["thread"] = threading.Thread(target=call, daemon=True)
    EARLY["thread"].start()
    time.sleep(0.3)


def next_invocation():
    thread = EARLY.pop("thread", None)
    if thread is None:
        return request("GET", "/invocation/next")
    thread.join()
    return EARLY.pop("answer")


def handle_url(request_id, event):
    path = event.get("rawPath", "/")
    query = event.get("queryStringParameters") or {}
    prelude_type = "application/vnd.awslambda.http-integration-response"
    if path == "/stream":
        s = Stream(request_id, prelude_type)
        prelude = {"statusCode": 201, "headers": {"content-type": "text/event-stream", "x-s": "1"},
                   "cookies": ["c=3; Path=/"]}
        s.write(json.dumps(prelude).encode() + b"\0" * 8)
        s.write("data: first\n\n")
        wait_for(query.get("flag", "/nonexistent"))
        s.write("data: second\n\n")
        s.finish()
    elif path == "/stream-fail":
        s = Stream(request_id, prelude_type)
        s.write(json.dumps({"statusCode": 200}).encode() + b"\0" * 8)
        s.write("partial")
        s.finish({"type": "UrlStreamError", "message": "broke midway"})
    elif path == "/stream-fail-early":
        s = Stream(request_id, "application/octet-stream")
        s.finish({"type": "Error", "message": "early boom"})
    elif path == "/stream-plain":
        s = Stream(request_id, "text/plain")
        s.write("plain ")
        s.write("stream")
        s.finish()
    elif path == "/binary":
        body = {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
        request("POST", f"/invocation/{request_id}/response", json.dumps(body).encode())
    elif path in ("/head-like", "/head-like-204"):
        status = 204 if path.endswith("204") else 200
        body = {"statusCode": status, "headers": {"Content-Type": "text/html", "Content-Length": "82"},
                "body": ""}
        request("POST", f"/invocation/{request_id}/response", json.dumps(body).encode())
    elif path == "/bare":
        request("POST", f"/invocation/{request_id}/response", json.dumps({"bare": [1, 2]}).encode())
    elif path == "/fail":
        request("POST", f"/invocation/{request_id}/error",
                json.dumps({"errorType": "UrlError", "errorMessage": "failed"}).encode(),
                {"Lambda-Runtime-Function-Error-Type": "UrlError"})
    elif path == "/notjson":
        request("POST", f"/invocation/{request_id}/response", b"this is not json")
    elif path in ("/respond", "/stream-body"):
        body = (event.get("body") or "").encode()
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body)
        if path == "/respond":
            request("POST", f"/invocation/{request_id}/response", body)
        else:
            s = Stream(request_id, prelude_type)
            s.write(body)
            s.finish()
    else:
        body = {"statusCode": 200, "headers": {"content-type": "application/json", "x-echo": "1"},
                "cookies": ["a=1; Path=/", "b=2"], "body": json.dumps(event)}
        request("POST", f"/invocation/{request_id}/response", json.dumps(body).encode())


def main():
    while True:
        status, headers, body = next_invocation()
        if status != 200:
            print("next failed", status, body.decode(), flush=True)
            sys.exit(1)
        request_id = dict((k.lower(), v) for k, v in headers)["lambda-runtime-aws-request-id"]
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        if MODE == "url":
            handle_url(request_id, event)
        else:
            handle_event(request_id, event)


main()
