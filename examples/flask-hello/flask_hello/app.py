"""Serves a page from a template and a static stylesheet."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys

from flask import Flask, render_template

app = Flask(__name__)


@app.route("/")
def index() -> str:
    return render_template(
        "index.html",
        python=platform.python_version(),
        flask=importlib.metadata.version("flask"),
        executable=sys.executable,
    )


@app.route("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the flask-hello demo.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
