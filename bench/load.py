"""The load generator every page benchmark uses: Debian's ``wrk`` (C, epoll), driven from Python.

Why wrk and not a Python client: the benchmarks run on the same two cores as the help desk. A Python
client spends about as much CPU per request as a light page does, so it measured itself as much as the
server. wrk needs a few microseconds per request, which leaves the cores to waitress and MariaDB, as
Apache's ``ab``/wrk left them to Apache + PHP when HESK's figures were taken.

What a benchmark hands it: a list of complete HTTP requests (method, path, headers such as the session
cookie, body). They are written to a file that a small Lua script loads; each connection walks the list
from its own offset, one request after the other, so requests with a one-time token (a ticket form) are
each sent once as long as the list is longer than the run needs (``run`` reports when it was not). Lua
counts the statuses per thread; the report gives requests per second, p50/p99 latency (wrk's own
histogram) and the statuses seen.

    from bench.load import Request, run
    result = run("http://127.0.0.1:8080", [Request("GET", "/")], clients=8, duration=10)
    print(result.rate, result.p50_ms, result.p99_ms, result.statuses)

CPU per request: ``run(..., watch={"app": server_pids(8080), "db": pids_named("mariadbd")})`` adds
``result.cpu_ms`` = {"app": ms, "db": ms}: the utime + stime those processes (all their threads) spent during
the run, divided by the requests answered. Unlike requests per second, that figure hardly moves when other
work shares the cores, so it is the one to compare while tuning on a busy machine.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass, field

SEPARATOR = "\n--hesk-wrk-request-separator--\n"

# Each wrk thread loads the requests, starts at its own offset and counts statuses; done() prints one
# JSON line with the latency percentiles (microseconds) and every thread's counts.
_LUA = r"""
local path = os.getenv("HESK_WRK_REQUESTS")
local sep = os.getenv("HESK_WRK_SEPARATOR")
local threads = {}
local counter = 0

local function load()
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  local out, start = {}, 1
  while true do
    local i, j = string.find(data, sep, start, true)
    if not i then break end
    out[#out + 1] = string.sub(data, start, i - 1)
    start = j + 1
  end
  return out
end

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

function init(args)
  local all = load()
  -- each thread walks its own slice of the list, so a one-time request is never sent by two threads
  local n = math.max(1, math.floor(#all / nthreads))
  local first = (id % nthreads) * n
  reqs = {}
  for i = first + 1, math.min(first + n, #all) do reqs[#reqs + 1] = all[i] end
  if #reqs == 0 then reqs = all end
  statuses = {}
  sent = 0
  wrapped = 0
  idx = 0
end

function request()
  idx = idx + 1
  if idx > #reqs then idx = 1; wrapped = 1 end
  sent = sent + 1
  return reqs[idx]
end

function response(status, headers, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
end

function done(summary, latency, requests)
  local parts = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    local items = {}
    for k, v in pairs(s) do items[#items + 1] = string.format('"%s": %d', k, v) end
    parts[#parts + 1] = string.format('{"statuses": {%s}, "sent": %d, "wrapped": %d}', table.concat(items, ", "),
                                      t:get("sent") or 0, t:get("wrapped") or 0)
  end
  io.write(string.format(
    'HESK_WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, ' ..
    '"threads": [%s]}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status, table.concat(parts, ", ")))
end
"""


@dataclass
class Request:
    method: str
    path: str  # with its query string, without the URL prefix of the base URL
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    wrapped: bool  # a connection came to the end of the request list and started it again
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per request of each watched group
    load_average: str = ""  # /proc/loadavg's 1, 5 and 15 minute figures at the end of the run

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def unexpected(self, expected: int) -> int:
        """Answers other than ``expected`` plus socket errors."""
        bad = sum(n for s, n in self.statuses.items() if s != str(expected))
        return bad + sum(self.socket_errors.values())

    def as_dict(self) -> dict:
        return {"rate": self.rate, "requests": self.requests, "seconds": self.seconds, "p50_ms": self.p50_ms,
                "p90_ms": self.p90_ms, "p99_ms": self.p99_ms, "statuses": self.statuses,
                "socket_errors": self.socket_errors, "wrapped": self.wrapped, "cpu_ms": self.cpu_ms,
                "load_average": self.load_average}


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("The benchmarks need wrk: apt-get install wrk")
    return found


def raw_request(base_url: str, req: Request) -> bytes:
    """The bytes of one HTTP/1.1 request with keep-alive, as wrk sends them."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.netloc
    prefix = parts.path.rstrip("/")
    headers = {"Host": host, "User-Agent": "hesk-bench (wrk)", "Accept": "text/html,application/json"}
    headers.update(req.headers)
    if req.body or req.method in ("POST", "PUT", "PATCH"):
        headers["Content-Length"] = str(len(req.body))
    head = f"{req.method} {prefix}{req.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + req.body


def run(base_url: str, requests: list[Request], clients: int = 8, duration: float = 10.0,
        threads: int = 2, timeout: float = 10.0, watch: dict[str, list[int]] | None = None) -> Result:
    """Run wrk with ``clients`` connections for ``duration`` seconds over ``requests``; ``watch`` names groups
    of processes whose CPU time per request is reported (``Result.cpu_ms``)."""
    if not requests:
        raise ValueError("no requests to send")
    sep = SEPARATOR.encode()
    with tempfile.TemporaryDirectory(prefix="hesk-wrk-") as tmp:
        req_file = os.path.join(tmp, "requests.bin")
        with open(req_file, "wb") as fh:
            for req in requests:
                raw = raw_request(base_url, req)
                if sep in raw:
                    raise ValueError("a request contains the separator")
                fh.write(raw + sep)
        threads = max(1, min(threads, clients))
        script = os.path.join(tmp, "load.lua")
        with open(script, "w") as fh:
            fh.write(f"nthreads = {threads}\n" + _LUA)
        cmd = [wrk_binary(), f"-t{threads}", f"-c{clients}", f"-d{max(1, int(round(duration)))}s",
               f"--timeout={int(timeout)}s", "-s", script, base_url]
        env = dict(os.environ, HESK_WRK_REQUESTS=req_file, HESK_WRK_SEPARATOR=SEPARATOR)
        before = {name: cpu_seconds(pids) for name, pids in (watch or {}).items()}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        spent = {name: cpu_seconds(pids) - before[name] for name, pids in (watch or {}).items()}
        if watch:  # the load generator's own share (wrk is this process's child)
            done = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent["wrk"] = done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("HESK_WRK_RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    data = json.loads(line.split(" ", 1)[1])
    statuses: dict[str, int] = {}
    wrapped = False
    for t in data["threads"]:
        for k, v in t["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        wrapped = wrapped or bool(t["wrapped"])
    errors = {k: v for k, v in data["errors"].items() if v and k != "status"}
    answered = max(1, data["requests"])
    return Result(requests=data["requests"], seconds=data["duration_us"] / 1e6, p50_ms=data["p50_us"] / 1000,
                  p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000, statuses=statuses,
                  socket_errors=errors, wrapped=wrapped,
                  cpu_ms={name: round(sec * 1000 / answered, 3) for name, sec in spent.items()},
                  load_average=load_average())


# --- what the run cost: CPU time of the server's processes --------------------------------------------

def _proc_pids() -> list[str]:
    return [p for p in os.listdir("/proc") if p.isdigit()]


def server_pids(port: int) -> list[int]:
    """Every process holding the listening socket of ``port`` on this machine (all ``hesk-py serve``
    processes share one SO_REUSEPORT socket), found through /proc. Empty elsewhere than Linux."""
    wanted = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                wanted.add(f"socket:[{cols[9]}]")
    found = []
    for pid in _proc_pids() if wanted else []:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in wanted for fd in fds):
                found.append(int(pid))
        except OSError:
            continue
    return sorted(found)


def pids_named(name: str) -> list[int]:
    """Processes whose command name is ``name`` (``mariadbd``)."""
    found = []
    for pid in _proc_pids():
        try:
            with open(f"/proc/{pid}/comm") as fh:
                if fh.read().strip() == name:
                    found.append(int(pid))
        except OSError:
            continue
    return found


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds these processes have used so far (every thread counted)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                after_name = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(after_name[11]) + int(after_name[12])  # stat fields 14 and 15: utime, stime
    return ticks / _TICKS


def load_average() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return ""
