"""Helpers for test_security.py: private CDF emulator processes (short token TTL, TLS, restarts),
a counting/slow token-endpoint proxy, PostgreSQL connections as other roles, and the server log."""
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import psycopg.sql

ROOT = os.environ.get("CDF_FDW_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
EMULATOR_BIN = os.path.join(ROOT, "target", "release", "cdf-emulator")
PGHOST = os.environ.get("PGHOST", "127.0.0.1")
PGPORT = os.environ.get("PGPORT", "5432")
DBNAME = "cdf_security"
# Every role these tests create starts with this prefix (and is dropped at the end).
ROLE_PREFIX = "cdfsec_"


# --- CDF emulator processes -------------------------------------------------------------------

class EmulatorProcess:
    """A cdf-emulator of our own on a loopback port; `restart()` keeps the port (and forgets every
    token it issued, since tokens live in the emulator's memory)."""

    def __init__(self, *flags, tls=None, ca_file=None):
        self.flags = list(flags)
        self.tls = tls  # (cert, key) or None
        self.ca_file = ca_file  # for our own admin calls over https
        self.port = 0
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix="cdf_sec_emulator_", suffix=".log", delete=False)
        self.start()

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def token_url(self):
        return f"{self.url}/oauth2/token"

    def start(self):
        args = [EMULATOR_BIN, "--listen", f"127.0.0.1:{self.port}", "--threads", "2", *self.flags]
        if self.tls:
            args += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        start = os.path.getsize(self.log.name)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            with open(self.log.name) as f:
                f.seek(start)
                for line in f:
                    if "listening on" in line:
                        # "cdf-emulator listening on http://127.0.0.1:PORT"
                        self.port = int(line.strip().rsplit(":", 1)[1].strip("/"))
                        return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"cdf-emulator did not start: {open(self.log.name).read()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def close(self):
        self.stop()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    # admin API
    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        ctx = ssl.create_default_context(cafile=self.ca_file) if self.tls else None
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def reset(self):
        self._call("POST", "/_admin/reset")
        self._call("DELETE", "/_admin/faults")

    def stats(self):
        return self._call("GET", "/_admin/stats")

    def endpoint(self, key):
        return self.stats()["endpoints"].get(key) or {"requests": 0, "statuses": {}}

    def items(self, resource, project="demo"):
        return self._call("GET", f"/_admin/dump/{project}/{resource}")["items"]

    def external_ids(self, resource="assets"):
        return {i.get("externalId") for i in self.items(resource)}

    def faults(self, rules):
        self._call("POST", "/_admin/faults", {"seed": 1, "rules": rules})

    def clear_faults(self):
        self._call("DELETE", "/_admin/faults")

    def put_client(self, client_id, client_secret, capabilities, projects=("demo",)):
        self._call("POST", "/_admin/clients", {
            "client_id": client_id, "client_secret": client_secret, "projects": list(projects),
            "capabilities": [dict(c) for c in capabilities]})

    def fetch_token(self, client_id, client_secret):
        """A token as the FDW would get it (to learn the format of what the emulator issues)."""
        data = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                       "client_secret": client_secret}).encode()
        ctx = ssl.create_default_context(cafile=self.ca_file) if self.tls else None
        with urllib.request.urlopen(urllib.request.Request(self.token_url, data=data), context=ctx, timeout=10) as r:
            return json.loads(r.read())["access_token"]


def cap(acl, *actions):
    return {"acl": acl, "actions": list(actions), "scope": {"all": {}}}


ALL_CAPABILITIES = [{"acl": "*", "actions": ["*"]}]


# --- a token-endpoint proxy: counts token requests, sees every token issued, can be slow ---------

class TokenProxy:
    """Serves POST /oauth2/token on a loopback port by forwarding to `upstream` (the emulator's
    token endpoint). The emulator's /_admin/stats does not count token requests, so this is how
    the tests count them; it also records every access token handed to the FDW, and can hold a
    request for `delay` seconds so that a statement is still running while another session
    looks at it."""

    def __init__(self, upstream, delay=0.0):
        self.upstream = upstream
        self.delay = delay
        self.requests = 0
        self.tokens = []
        self.received = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                proxy.requests += 1
                proxy.received.set()
                if proxy.delay:
                    time.sleep(proxy.delay)
                req = urllib.request.Request(proxy.upstream, data=body, method="POST")
                req.add_header("content-type", self.headers.get("content-type", "application/x-www-form-urlencoded"))
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        status, payload = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, payload = e.code, e.read()
                try:
                    token = json.loads(payload).get("access_token")
                except ValueError:
                    token = None
                if token:
                    proxy.tokens.append(token)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- PostgreSQL --------------------------------------------------------------------------------

def superuser(dbname=DBNAME, **kw):
    """A superuser connection (PGUSER/PGPASSWORD of the test cluster)."""
    return psycopg.connect(dbname=dbname, autocommit=True, **kw)


def login(user, password, dbname=DBNAME):
    """Logs in over TCP with a password, as an ETL tool would."""
    return psycopg.connect(host=PGHOST, port=PGPORT, dbname=dbname, user=user, password=password,
                           autocommit=True, connect_timeout=10)


def as_role(role, dbname=DBNAME):
    """A superuser connection switched to `role` (SET ROLE): privileges are the role's."""
    c = superuser(dbname)
    c.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
    return c


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerLog:
    """The part of the cluster's server log written after construction."""

    def __init__(self, path):
        self.path = path
        self.start = os.path.getsize(path)

    def new_text(self):
        with open(self.path, "rb") as f:
            f.seek(self.start)
            return f.read().decode("utf-8", "replace")


def error_texts(e):
    """Everything a client sees of an error: message, detail, hint, context."""
    d = e.diag
    return [str(e), d.message_primary or "", d.message_detail or "", d.message_hint or "",
            d.context or "", d.internal_query or ""]


class Redirector:
    """A loopback HTTP server that answers every request with `status` (307: "repeat the same
    request there") to `location`, and records what it is sent (method, path, headers, body)."""

    def __init__(self, location=None, status=307):
        self.location = location
        self.status = status
        self.seen = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                owner.seen.append((self.command, self.path, dict(self.headers), body.decode("utf-8", "replace")))
                if owner.location:
                    self.send_response(owner.status)
                    self.send_header("location", owner.location)
                else:
                    self.send_response(400)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
