"""apepy's profile task: the training run of an ``--optimize`` build.

Run by the freshly built, instrumented interpreter, in place of CPython's own task (a
subset of its test suite, 30 minutes and more on 2 cores). What runs here is what
programs spend their time on: start-up and the common imports, the data-handling
modules, asyncio, sqlite3, compression, hashing, an HTTP round trip, and an
interpreter-bound mix in the style of pyperformance.

Everything is counted, not timed, and every process runs one thread: the same build
trains on the same work each time, so two builds get the same profile. Two threads
would make it depend on the scheduler (when the GIL changes hands, how often a lock
spins before its waiter sleeps), so the code that only threads run is trained by no
one and compiled as rarely run.
``python task.py [--scale N]`` (20 by default); exits non-zero if any part fails.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

SCALE = 20


def say(part: str) -> None:
    print(f"apepy-pgo: {part}", flush=True)


def startup() -> None:
    import os
    import subprocess

    # Start-up is most of a short program's time: train it in fresh processes, with
    # this one's environment (apepy's: where the profile goes, a fixed hash seed), one
    # after another.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for _ in range(2 * SCALE):
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
        subprocess.run([sys.executable, "-S", "-c", "pass"], check=True, env=env)
        subprocess.run(
            [sys.executable, "-c", "import json, email, http.server, asyncio"],
            check=True,
            env=env,
        )
    for _ in range(SCALE // 2):
        subprocess.run([sys.executable, __file__, "--part", "imports"], check=True, env=env)


def imports() -> None:
    import importlib

    names = (
        "argparse", "ast", "base64", "collections", "configparser", "contextlib", "csv",
        "dataclasses", "email.message", "email.parser", "enum", "fnmatch", "functools",
        "gettext", "glob", "heapq", "html", "http.client", "inspect", "io", "ipaddress",
        "itertools", "locale", "logging", "mimetypes", "operator", "pathlib", "platform",
        "pprint", "queue", "random", "shlex", "shutil", "signal", "socket", "ssl",
        "statistics", "string", "tempfile", "textwrap", "tokenize", "traceback", "typing",
        "unittest", "urllib.parse", "urllib.request", "uuid", "warnings", "weakref",
        "xml.etree.ElementTree", "zipfile",
    )  # fmt: skip
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            # A module left out of this build (--exclude-module, --minimal).
            continue


def data() -> None:
    import datetime
    import decimal
    import json
    import pickle
    import re
    import struct

    record = {
        "id": 1,
        "name": "caf\u00e9 \u2603",
        "tags": ["a", "b", "c"],
        "price": 12.5,
        "nested": {"x": [1, 2, 3], "y": None, "z": True},
    }
    rows = [dict(record, id=i, price=i * 0.25) for i in range(200)]
    for _ in range(25 * SCALE):
        text = json.dumps(rows)
        assert json.loads(text) == rows
        json.dumps(rows, indent=2, sort_keys=True)
        blob = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
        assert pickle.loads(blob) == rows
        pickle.loads(pickle.dumps(rows, protocol=2))

    log = "\n".join(
        f"2026-12-0{i % 9 + 1} 12:{i % 60:02d}:00 host{i % 7} GET /item/{i}?q={i * 3} 200 {i * 17}"
        for i in range(400)
    )
    pattern = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d):\d\d (\w+) (GET|POST) (\S+) (\d{3}) (\d+)")
    words = re.compile(r"\b\w+\b")
    for _ in range(15 * SCALE):
        hits = [m.groups() for m in pattern.finditer(log)]
        assert len(hits) == 400
        re.sub(r"host(\d)", lambda m: m.group(1) * 2, log)
        words.findall(log)
        re.split(r"[\s/?=]+", log[:2000])
        re.fullmatch(r"[a-z]+@[a-z]+\.[a-z]{2,3}", "someone@example.org")

    layout = struct.Struct("<IhqdB10s")
    for i in range(20000 * SCALE):
        packed = layout.pack(i, i % 1000, i * 7, i / 3, i % 256, b"abc")
        layout.unpack(packed)
        struct.unpack_from(">HH", packed, 2)

    decimal.getcontext().prec = 28
    total = decimal.Decimal(0)
    for i in range(1, 5000 * SCALE):
        price = decimal.Decimal(i) / decimal.Decimal(7)
        total += price.quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_EVEN)
    str(total)

    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for i in range(4000 * SCALE):
        moment = start + datetime.timedelta(hours=i, seconds=i * 13)
        text = moment.isoformat()
        datetime.datetime.fromisoformat(text)
        moment.strftime("%Y-%m-%d %H:%M:%S")
        (moment - start).total_seconds()


def text_and_containers() -> None:
    import collections
    import io
    import string

    words = [f"word{i % 500}" for i in range(20000)]
    for _ in range(5 * SCALE):
        counts = collections.Counter(words)
        counts.most_common(10)
        grouped = collections.defaultdict(list)
        for i, w in enumerate(words):
            grouped[w[-1]].append(i)
        sorted(words, key=str.lower)
        {w: len(w) for w in words}
        set(words) & {f"word{i}" for i in range(0, 1000, 3)}
        " ".join(words).split()
        buf = io.StringIO()
        for w in words[:5000]:
            buf.write(f"{w:>12}|{len(w):04d}|{w.upper()}\n")
        buf.getvalue().splitlines()
        "caf\u00e9 \u2603 na\u00efve".encode("utf-8").decode("utf-8").casefold()
        string.Template("$a-$b").substitute(a=1, b=2)
        assert "%s=%d (%.3f)" % ("x", 3, 2.5) == "x=3 (2.500)"  # noqa: UP031
        deque = collections.deque(range(1000))
        deque.rotate(7)
        [x * 2 for x in range(10000) if x % 3]


def compression_and_hashing() -> None:
    import hashlib

    payload = (b"apepy profile task " * 4000) + bytes(range(256)) * 64
    for name in ("zlib", "bz2", "lzma"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        for _ in range(3 * SCALE):
            assert module.decompress(module.compress(payload)) == payload
    try:
        import zlib

        for _ in range(10 * SCALE):
            z = zlib.compressobj(6)
            chunk = z.compress(payload) + z.flush()
            zlib.decompressobj().decompress(chunk)
            zlib.crc32(payload)
    except ImportError:
        pass
    for name in ("sha256", "sha1", "md5", "sha512", "blake2b", "sha3_256"):
        for _ in range(20 * SCALE):
            hashlib.new(name, payload).hexdigest()
    import hmac

    for _ in range(2000 * SCALE):
        hmac.new(b"key", b"message", "sha256").digest()


def sqlite() -> None:
    try:
        import sqlite3
    except ImportError:
        return
    db = sqlite3.connect(":memory:")
    db.execute("create table item (id integer primary key, name text, price real, tag text)")
    for _ in range(3 * SCALE):
        db.execute("delete from item")
        db.executemany(
            "insert into item (name, price, tag) values (?, ?, ?)",
            ((f"item {i}", i * 0.5, f"t{i % 13}") for i in range(5000)),
        )
        db.commit()
        for tag in range(13):
            db.execute(
                "select count(*), sum(price) from item where tag = ?", (f"t{tag}",)
            ).fetchone()
        rows = db.execute(
            "select id, name, price from item order by price desc limit 500"
        ).fetchall()
        assert len(rows) == 500
        db.execute("update item set price = price * 1.1 where id % 2 = 0")
    db.close()


def aio() -> None:
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(1500 * SCALE):
            writer.write(f"line {i}\n".encode())
            await writer.drain()
            assert await reader.readline() == f"LINE {i}\n".encode()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

        async def step(n: int) -> int:
            await asyncio.sleep(0)
            return n * 2

        for _ in range(20 * SCALE):
            results = await asyncio.gather(*(step(n) for n in range(200)))
            assert sum(results) == 39800
        q: asyncio.Queue[int] = asyncio.Queue()
        for i in range(3000 * SCALE):
            q.put_nowait(i)
        while not q.empty():
            await q.get()

    asyncio.run(main())


def http_round_trip() -> None:
    import http.client
    import http.server
    import urllib.parse

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            body = ("hello " + query.get("name", ["world"])[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            # One fixed moment: the clock's would make the profile depend on when the
            # build ran (a second below ten is formatted another way).
            return super().date_time_string(1767225600)

    # One thread: loopback's backlog completes the connect and its buffers hold the
    # request, so the server handles it between the client's send and its read.
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    for i in range(300 * SCALE):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/greet?name=n{i}")
        server.handle_request()
        response = conn.getresponse()
        assert response.read() == f"hello n{i}".encode()
        conn.close()
    server.server_close()


def cpu() -> None:
    import math

    # nbody-like: float arithmetic over lists.
    bodies = [
        [float(i), float(i * 2), float(i * 3), 0.01 * i, 0.02, 0.03, 1.0 + i] for i in range(5)
    ]
    for _ in range(16000 * SCALE):
        for i, a in enumerate(bodies):
            for b in bodies[i + 1 :]:
                dx, dy, dz = a[0] - b[0], a[1] - b[1], a[2] - b[2]
                mag = 0.01 / ((dx * dx + dy * dy + dz * dz + 0.01) ** 1.5)
                a[3] -= dx * b[6] * mag
                b[3] += dx * a[6] * mag
        for body in bodies:
            body[0] += 0.01 * body[3]

    # richards-like: objects, attribute access, method calls, small branches.
    class Task:
        __slots__ = ("count", "next", "priority")

        def __init__(self, priority: int, following: Task | None) -> None:
            self.priority = priority
            self.count = 0
            self.next = following

        def run(self, packet: int) -> Task | None:
            self.count += 1
            if packet % 3 == 0:
                return self.next
            return self

    class Point:
        def __init__(self, x: float, y: float) -> None:
            self.x, self.y = x, y

        def __add__(self, other: Point) -> Point:
            return Point(self.x + other.x, self.y + other.y)

        @property
        def norm(self) -> float:
            return math.hypot(self.x, self.y)

    chain: Task | None = None
    for p in range(10):
        chain = Task(p, chain)
    for packet in range(600000 * SCALE):
        assert chain is not None
        chain = chain.run(packet) or Task(packet % 10, None)
    acc = Point(0.0, 0.0)
    for i in range(50000 * SCALE):
        acc = acc + Point(i * 0.5, -i * 0.25)
    assert acc.norm > 0

    # Generators, closures, exceptions, big integers, sorting.
    def fib() -> object:
        a, b = 0, 1
        while True:
            yield a
            a, b = b, a + b

    for _ in range(40 * SCALE):
        gen = fib()
        [next(gen) for _ in range(500)]  # type: ignore[call-overload]
    empty: dict[str, int] = {}
    for i in range(30000 * SCALE):
        try:
            if i % 2:
                raise ValueError(i)
            empty["missing"]
        except (ValueError, KeyError):
            pass

    def adder(n: int) -> Callable[[int], int]:
        return lambda x: x + n

    adders = [adder(n) for n in range(100)]
    for _ in range(500 * SCALE):
        sum(f(1) for f in adders)
    rng = __import__("random").Random(0)
    for _ in range(20 * SCALE):
        values = [rng.random() for _ in range(5000)]
        values.sort()
        sorted(values, reverse=True)
    math.factorial(2000) // math.factorial(1000)
    pow(3, 10000, 10**9 + 7)

    # go/unpack_sequence-like: tuples, indexing, nested loops.
    grid = [[(x * y) % 7 for x in range(60)] for y in range(60)]
    for _ in range(60 * SCALE):
        checksum = 0
        for row in grid:
            first, second, third, *rest = row
            checksum += first + second + third + len(rest)
            for v in row[::3]:
                checksum ^= v
    compile("def f(x):\n    return [i * x for i in range(10)]\n", "<pgo>", "exec")


PARTS = {
    "start-up": startup,
    "imports": imports,
    "json, re, pickle, struct, decimal, datetime": data,
    "text and containers": text_and_containers,
    "compression and hashing": compression_and_hashing,
    "sqlite3": sqlite,
    "asyncio": aio,
    "HTTP round trip": http_round_trip,
    "interpreter-bound mix": cpu,
}


def main() -> int:
    global SCALE
    if "--scale" in sys.argv:
        SCALE = int(sys.argv[sys.argv.index("--scale") + 1])
    if "--part" in sys.argv:
        # Imports again in a fresh process: modules load once per process.
        PARTS[sys.argv[sys.argv.index("--part") + 1]]()
        return 0
    for name, part in PARTS.items():
        say(name)
        part()
    say("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
