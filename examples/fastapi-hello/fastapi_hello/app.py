"""Items kept in memory; pydantic validates what comes in."""

from __future__ import annotations

import argparse
import platform

import pydantic
import pydantic_core
import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

app = FastAPI(title="fastapi-hello")


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[str] = []


ITEMS: dict[int, Item] = {1: Item(name="portable python", price=1.5, tags=["ape"])}


@app.get("/items/{item_id}")
def read_item(item_id: int) -> Item:
    if item_id not in ITEMS:
        raise HTTPException(status_code=404, detail="no such item")
    return ITEMS[item_id]


@app.post("/items", status_code=201)
def create_item(item: Item) -> dict[str, int]:
    item_id = max(ITEMS) + 1
    ITEMS[item_id] = item
    return {"id": item_id}


@app.get("/versions")
def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "pydantic": pydantic.VERSION,
        "pydantic_core": pydantic_core.__version__,
        "pydantic_core_module": repr(pydantic_core._pydantic_core),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fastapi-hello demo.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
