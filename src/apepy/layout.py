"""Where things are in the zip appended to an apepy executable: the one place that says so.

Imports nothing at all, so every part of apepy may import it.
"""

# The standard library, as CPython's getpath (patched) puts it on sys.path:
# ``<exe>/Lib``, then ``<exe>/Lib/site-packages``.
LIB = "Lib/"
SITE = LIB + "site-packages/"

# The CA bundle that _apepy falls back on, under Lib/ so it sits beside _apepy.
CA_DIR = "_apepy_data"
CA_BUNDLE = CA_DIR + "/cacert.pem"
CA_ARCNAME = LIB + CA_BUNDLE

# apepy's own members. The manifest marks a file as apepy's (so zipstore writes
# the import index into it); bundle.json is what _apepy_boot runs; .args holds the
# default arguments (also named in inside/c/apepy_args.c, which is C).
APEPY_DIR = ".apepy/"
MANIFEST_ARCNAME = APEPY_DIR + "manifest.json"
BUNDLE_CONFIG = APEPY_DIR + "bundle.json"
INDEX_ARCNAME = APEPY_DIR + "index"
# The keys of bundle.json: bundle.BundleConfig's fields (it refuses to write others),
# which _apepy_boot reads exactly.
BUNDLE_KEYS = ("distributions", "entry", "extract", "name", "schema", "scripts")
ARGS_ARCNAME = ".args"

# The import index is found through the archive comment: this magic, then two
# little-endian 64-bit numbers, the index's data offset and its length.
INDEX_MAGIC = b"APEPYIX1"

# The stdlib's hot modules are frozen into the binary under this alias
# (interpreter/freeze.py), out of reach of CPython's FrozenImporter.
FROZEN_PREFIX = "__apepy__."
