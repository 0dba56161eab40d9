"""HTTP server for the todo list.

``GET /todos`` returns the list as JSON; ``POST /todos`` with a JSON body
``{"title": "..."}`` appends a todo and returns it with status 201.
"""

import argparse
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from todo_app import __version__


class TodoHandler(BaseHTTPRequestHandler):
    """Serves ``/todos`` from the list held by the server."""

    def _send_json(self, status, payload):
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/todos":
            return self._send_json(404, {"error": "not found"})
        with self.server.lock:
            self._send_json(200, list(self.server.todos))

    def do_POST(self):
        if self.path != "/todos":
            return self._send_json(404, {"error": "not found"})
        try:
            length = int(self.headers.get("Content-Length", 0))
            title = str(json.loads(self.rfile.read(length))["title"])
        except (ValueError, KeyError, TypeError):
            return self._send_json(400, {"error": "expected {\"title\": ...}"})
        with self.server.lock:
            todo = {"id": len(self.server.todos) + 1, "title": title}
            self.server.todos.append(todo)
        self._send_json(201, todo)

    def log_message(self, fmt, *args):
        """Keep the self-test's output clean; real logging is out of scope."""


def make_server(host="127.0.0.1", port=0):
    """Create a server with an empty todo list (port 0: any free port)."""
    server = ThreadingHTTPServer((host, port), TodoHandler)
    server.todos = []
    server.lock = threading.Lock()
    return server


def self_test():
    """Serve on a loopback port, POST one todo, GET the list; return it."""
    server = make_server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://%s:%d/todos" % server.server_address[:2]
        post = urllib.request.Request(
            url, data=json.dumps({"title": "reproduce me"}).encode("utf-8"),
            headers={"Content-Type": "application/json"}, method="POST")
        # An empty ProxyHandler: never consult *_proxy environment variables.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(post, timeout=10) as resp:
            assert resp.status == 201, resp.status
        with opener.open(url, timeout=10) as resp:
            return json.loads(resp.read())
    finally:
        server.shutdown()
        server.server_close()


def main(argv=None):
    """Entry point of the ``todo-server`` console script."""
    parser = argparse.ArgumentParser(prog="todo-server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--self-test", action="store_true",
                        help="serve on a free loopback port, POST and GET "
                             "one todo, then exit")
    parser.add_argument("--version", action="version",
                        version="todo-server " + __version__)
    args = parser.parse_args(argv)
    if args.self_test:
        todos = self_test()
        if [t["title"] for t in todos] != ["reproduce me"]:
            print("self-test failed: %r" % (todos,))
            return 1
        print("self-test ok: %d todo" % len(todos))
        return 0
    server = make_server(args.host, args.port)
    print("serving todos on http://%s:%d/todos" % server.server_address[:2],
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
