"""Compiles sources to .pyc; written next to the work and run as a script by pyc.py.

Run by the target interpreter, so the magic number is always its own. Unchecked
hash-based .pyc (PEP 552) do not depend on file times, so output is reproducible.
A file that does not compile is reported and skipped (its .py stays usable)
unless strict is set.

Arguments: a listing (one "source<TAB>relative name" a line), the output
directory, the prefix for the name recorded in each .pyc, and "1" for strict.
"""

import py_compile
import sys

listing, out, prefix, strict = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
with open(listing, encoding="utf-8") as lines:
    for line in lines:
        src, rel = line.rstrip("\n").split("\t")
        try:
            py_compile.compile(
                src,
                cfile=out + "/" + rel[:-3] + ".pyc",
                dfile=prefix + rel,
                doraise=True,
                optimize=0,
                invalidation_mode=mode,
            )
        except py_compile.PyCompileError as exc:
            if strict:
                raise
            print("apepy-skip\t" + rel + "\t" + str(exc.msg).splitlines()[0], flush=True)
