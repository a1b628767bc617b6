"""Standard-library C paths: json round trips and regular expressions."""

import json
import re
import time

DOC = {
    "users": [
        {"id": i, "name": f"user{i}", "tags": ["a", "b", "c"], "score": i * 1.5, "ok": i % 2 == 0}
        for i in range(200)
    ]
}
WORDS = re.compile(r"\b(\w+)@(\w+)\.com\b")
TEXT = " ".join(f"name{i}@host{i % 7}.com and some filler text {i}" for i in range(400))

start = time.perf_counter()
for _ in range(60):
    assert json.loads(json.dumps(DOC)) == DOC
    assert len(WORDS.findall(TEXT)) == 400
print(time.perf_counter() - start)
