#!/usr/bin/python3
"""A file server on loopback for the download tests: serves DIR under three prefixes.

    data_server.py DIR PORT_FILE

/ok/<file>         the file
/truncated/<file>  SHA256SUMS whole; any other file announced at its full length, half sent, then closed
/silent/<file>     SHA256SUMS whole; any other file never answered (the connection stays open)

It binds 127.0.0.1 on a free port and writes the port to PORT_FILE once it listens.
"""
import http.server
import os
import sys
import time

ROOT = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = self.path.strip('/').split('/', 1)
        if len(parts) != 2 or parts[0] not in ('ok', 'truncated', 'silent'):
            self.send_error(404)
            return
        mode, name = parts
        path = os.path.join(ROOT, name)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        data = open(path, 'rb').read()
        if mode == 'silent' and name != 'SHA256SUMS':
            time.sleep(600)
            return
        self.send_response(200)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if mode == 'truncated' and name != 'SHA256SUMS':
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)


server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
server.daemon_threads = True
with open(sys.argv[2] + '.tmp', 'w') as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[2] + '.tmp', sys.argv[2])
server.serve_forever()
