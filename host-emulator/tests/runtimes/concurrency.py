"""A Lambda runtime in Python 3 (standard library only) for the concurrency tests.

It serves AWS_LAMBDA_MAX_CONCURRENCY invocations at once (one thread and one connection per
slot, each looping on /next), or one when the variable is absent. During Init it starts a
background thread that increments a counter every 10 ms, to show freezing.

Each event (a JSON object) may say:
  record: PATH      append "start <time>" and "end <time>" lines (with pid and request id)
  barrier: {dir, count}  create a file in dir, then wait until count files exist there (at most
                    60 s): the invocation goes on only once `count` invocations have started
  wait_for: PATH    wait until PATH exists (at most 60 s)
  map_file: PATH    map PATH read-only and read every page of it (kept until exit): file-backed
                    resident memory
  alloc_mb: N       allocate and touch N MB (kept until exit)
  child_alloc_mb: N run a child Python that allocates and touches N MB, wait for it, and answer
                    its exit status as "child_status" (negative: the signal that ended it)
  sleep: S          sleep S seconds
  exit: CODE        exit with CODE at once
  fail: TEXT        post /error instead of a response
  print: TEXT       print TEXT to stdout (after the barrier)
  stream: [TEXT]    stream these chunks as the response (chunked, response mode streaming),
                    ending with error trailers when `stream_fail` (TEXT) is given too
The response describes the invocation: pid, thread, the counter, the initialisation type.
"""
import base64
import http.client
import json
import mmap
import os
import socket
import sys
import threading
import time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"
SLOTS = int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "1"))
counter = 0
kept = []


def background():
    global counter
    while True:
        counter += 1
        time.sleep(0.01)


def record(path, what, request_id):
    line = f"{what} {time.time():.6f} {os.getpid()} {request_id}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def barrier(spec, request_id):
    open(os.path.join(spec["dir"], request_id), "w").close()
    wait_until(lambda: len(os.listdir(spec["dir"])) >= spec["count"])


def wait_until(condition):
    deadline = time.monotonic() + 60
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def stream(request_id, chunks, fail):
    """Streams a response over its own connection; returns the emulator's status code."""
    host, port = API.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST {BASE}/invocation/{request_id}/response HTTP/1.1\r\nHost: {API}\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: text/plain\r\n\r\n"
    )
    sock.sendall(head.encode())
    for chunk in chunks:
        data = chunk.encode()
        sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
    end = b"0\r\n"
    if fail:
        doc = json.dumps({"errorType": "StreamFailed", "errorMessage": fail}).encode()
        end += b"Lambda-Runtime-Function-Error-Type: StreamFailed\r\n"
        end += b"Lambda-Runtime-Function-Error-Body: " + base64.b64encode(doc) + b"\r\n"
    sock.sendall(end + b"\r\n")
    answer = b""
    while b"\r\n" not in answer:
        part = sock.recv(65536)
        if not part:
            break
        answer += part
    sock.close()
    return int(answer.split(b" ")[1]) if answer.count(b" ") >= 1 else 0


def serve(slot):
    conn = http.client.HTTPConnection(API)
    while True:
        conn.request("GET", BASE + "/invocation/next")
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            print("next failed", resp.status, body.decode(), flush=True)
            os._exit(1)
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        event = json.loads(body) if body else {}
        if not isinstance(event, dict):
            event = {}
        if "record" in event:
            record(event["record"], "start", request_id)
        if "barrier" in event:
            barrier(event["barrier"], request_id)
        if "wait_for" in event:
            wait_until(lambda: os.path.exists(event["wait_for"]))
        if "print" in event:
            print(event["print"], flush=True)
        if "map_file" in event:
            with open(event["map_file"], "rb") as f:
                mapped = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
            touched = 0
            for i in range(0, len(mapped), 4096):
                touched += mapped[i]
            kept.append(mapped)
        if "alloc_mb" in event:
            block = bytearray(event["alloc_mb"] * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            kept.append(block)
        child_status = None
        if "child_alloc_mb" in event:
            import subprocess
            code = ("b = bytearray(%d * 1024 * 1024)\n"
                    "for i in range(0, len(b), 4096): b[i] = 1\n" % event["child_alloc_mb"])
            child_status = subprocess.run([sys.executable, "-c", code]).returncode
        if "sleep" in event:
            time.sleep(event["sleep"])
        if "exit" in event:
            os._exit(event["exit"])
        if "record" in event:
            record(event["record"], "end", request_id)
        if "stream" in event:
            status = stream(request_id, event["stream"], event.get("stream_fail"))
            if status != 202:
                print("stream post failed", status, flush=True)
            continue
        if "fail" in event:
            doc = {"errorType": "Failed", "errorMessage": event["fail"]}
            conn.request("POST", f"{BASE}/invocation/{request_id}/error", body=json.dumps(doc),
                         headers={"Lambda-Runtime-Function-Error-Type": "Failed"})
        else:
            result = {
                "pid": os.getpid(),
                "slot": slot,
                "request_id": request_id,
                "counter": counter,
                "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
                "child_status": child_status,
                "max_concurrency": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"),
                "event": event,
            }
            conn.request("POST", f"{BASE}/invocation/{request_id}/response", body=json.dumps(result))
        resp = conn.getresponse()
        resp.read()
        if resp.status != 202:
            print("post failed", resp.status, flush=True)


def main():
    threading.Thread(target=background, daemon=True).start()
    threads = [threading.Thread(target=serve, args=(i,), daemon=True) for i in range(SLOTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


main()
