"""Start-up time and idle memory of the endpoint binary, with a state folder that already holds
tables and queues like the sales pipeline's.

Usage: python startup.py PATH/TO/cascade [runs]. Prints the median time from process start to the
first answered request, and the resident memory once idle."""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BINARY = sys.argv[1]
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
# The servers' ports lie below the kernel's ephemeral range. In that range, a client that connects
# in a loop before the server is up can be given the very port it dials as its own and connect to
# itself; the server then fails to bind.
with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
    PORT_BASE = int(ports.read().split()[0]) - 100


def request(port, target, body):
    payload = json.dumps(body).encode()
    head = (
        f"POST / HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nx-amz-target: {target}\r\n"
        f"content-type: application/x-amz-json-1.0\r\nconnection: close\r\ncontent-length: {len(payload)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(head + payload)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    if status != 200:
        raise RuntimeError(f"{target}: {answer!r}")
    return answer


def seed(state, port):
    server = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{port}", "--state-dir", state], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server.stderr.readline()
    for table in ["branches", "salespersons", "sales"]:
        request(port, "DynamoDB_20120810.CreateTable", {
            "TableName": f"dev-{table}",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        })
    for queue in ["branch", "salesperson", "sale"]:
        for name in [f"dev-{queue}-queue", f"dev-{queue}-dlq"]:
            request(port, "AmazonSQS.CreateQueue", {"QueueName": name})
    server.terminate()
    server.wait()


def first_answer(state, port):
    start = time.perf_counter()
    server = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{port}", "--state-dir", state], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            request(port, "DynamoDB_20120810.ListTables", {})
            break
        except (ConnectionRefusedError, ConnectionResetError):
            time.sleep(0.0005)
    elapsed = time.perf_counter() - start
    time.sleep(1.0)
    with open(f"/proc/{server.pid}/status") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    server.terminate()
    server.wait()
    return elapsed, rss_kb


with tempfile.TemporaryDirectory() as state:
    seed(state, PORT_BASE)
    samples = [first_answer(state, PORT_BASE + 1 + i) for i in range(RUNS)]
    times = [t * 1000 for t, _ in samples]
    rss = [r / 1024 for _, r in samples]
    print(f"start to first answer: median {statistics.median(times):.1f} ms (runs: {', '.join(f'{t:.1f}' for t in times)}); target 20 ms")
    print(f"idle resident memory: median {statistics.median(rss):.1f} MB; target 15 MB")
