#!/usr/bin/env python3
"""python3 -m http.server with a chosen congestion control on its sockets (TCP_CONGESTION on
the listening socket, inherited by the accepted ones; any algorithm the kernel has needs
CAP_NET_ADMIN when it is not in net.ipv4.tcp_allowed_congestion_control).
Usage: http_server_cc.py ADDRESS PORT DIRECTORY ALGORITHM; prints 'ready' once listening."""
import functools
import http.server
import socket
import sys

address, port, directory, algorithm = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, algorithm.encode())
        super().server_bind()


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


server = Server((address, port), functools.partial(Handler, directory=directory))
got = server.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()
print(f"ready: {got}", flush=True)
server.serve_forever()
