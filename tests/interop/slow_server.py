#!/usr/bin/env python3
"""A deliberately slow HTTP server for the failure tests: it answers every request with a
head announcing SIZE bytes, then trickles the body (4 KB every 10 ms), so that a test can
kill it, reset its connection or cut the network in the middle of the transfer.
Usage: slow_server.py ADDR PORT SIZE"""
import socket
import sys
import threading
import time

addr, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def serve(conn):
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
        sent = 0
        piece = b"x" * 4096
        while sent < size:
            n = min(len(piece), size - sent)
            conn.sendall(piece[:n])
            sent += n
            time.sleep(0.01)


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((addr, port))
srv.listen(8)
print("ready", flush=True)
deadline = time.time() + 120  # bounded: never outlives a test by much
srv.settimeout(1)
while time.time() < deadline:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
