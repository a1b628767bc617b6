"""apepy's run-time support inside a single-file interpreter."""

import os

# Given their values when this module is put into a file (apepy.inside).
from apepy.layout import CA_BUNDLE

# For the type checker only: every start imports this module, and nothing more.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    import zipfile
    from collections.abc import Iterator
    from importlib.metadata import DistributionFinder, PathDistribution

# Where the common systems keep their CA bundle, for a build whose compiled-in
# OpenSSL paths (those of the build host) do not exist on this machine.
_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Arch, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # RHEL 7
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",  # Alpine, macOS, the BSDs
)


def load_fallback_cas(context: "ssl.SSLContext") -> None:
    """Give ``context`` a CA store when OpenSSL's default paths have none.

    The default paths (and SSL_CERT_FILE / SSL_CERT_DIR) win when they exist; then
    a system bundle at a well-known path; last, the bundle stored in this file.
    """
    import ssl

    # A CA file wins. A CA directory alone does not: it is looked up lazily, so the
    # context shows no CAs (cert_store_stats, get_ca_certs), and OpenSSL's compiled-in
    # one (/etc/ssl/certs for a Cosmopolitan build, on every OS) may be absent or
    # unhashed where the file runs. The directory stays in use as well.
    paths = ssl.get_default_verify_paths()
    if paths.cafile:
        return
    for bundle in _SYSTEM_BUNDLES:
        if os.path.isfile(bundle):
            context.load_verify_locations(cafile=bundle)
            return
    context.load_verify_locations(cadata=bundled_cas())


def bundled_cas() -> str:
    """The PEM text of the CA bundle stored in the executable's zip."""
    here = os.path.dirname(__file__)
    data: bytes = __loader__.get_data(os.path.join(here, CA_BUNDLE))  # type: ignore[name-defined]
    return data.decode("ascii")


# Per path entry: (archive, prefix inside it, its dist-info names), or None.
_LISTINGS: "dict[str, tuple[str, str, list[str]] | None]" = {}
_ZIPFILES: "dict[str, zipfile.ZipFile]" = {}


def _normalize(name: str) -> str:
    return name.replace("-", "_").replace(".", "_").lower()


class ZipMetadataFinder:
    """Find ``*.dist-info`` in subdirectories of a zip on sys.path (``<exe>/Lib/site-packages``).

    The stdlib's finder handles a zip only when the zip itself is the path entry.
    """

    @classmethod
    def find_spec(cls, fullname: str, path: object = None, target: object = None) -> None:
        return None

    @classmethod
    def invalidate_caches(cls) -> None:
        _LISTINGS.clear()
        _ZIPFILES.clear()

    @classmethod
    def find_distributions(
        cls, context: "DistributionFinder.Context | None" = None
    ) -> "Iterator[PathDistribution]":
        from importlib.metadata import DistributionFinder, PathDistribution

        if context is None:
            context = DistributionFinder.Context()
        wanted = _normalize(context.name) if context.name else None
        for entry in context.path:
            found = cls._split(entry)
            if found is None:
                continue
            archive, inner, names = found
            for dist_info in names:
                if wanted is None or _normalize(dist_info.split("-")[0]) == wanted:
                    import zipfile

                    # One ZipFile per archive: zipfile.Path(name) would read the
                    # central directory again on every importlib.metadata call.
                    handle = _ZIPFILES.get(archive)
                    if handle is None:
                        handle = _ZIPFILES[archive] = zipfile.ZipFile(archive)
                    yield PathDistribution(zipfile.Path(handle, at=inner + dist_info + "/"))

    @classmethod
    def _split(cls, entry: str) -> "tuple[str, str, list[str]] | None":
        """(archive, inner prefix, dist-info dir names) for a path entry inside a zip."""
        if not entry or os.path.isdir(entry):
            return None
        if entry in _LISTINGS:
            return _LISTINGS[entry]
        result = None
        archive, inner = entry, ""
        while archive and not os.path.isfile(archive):
            archive, _, tail = archive.rpartition("/")
            inner = tail + "/" + inner
        if archive and inner:
            import zipfile

            try:
                listing = _indexed_names(archive)
                if listing is None:
                    with zipfile.ZipFile(archive) as zf:
                        listing = zf.namelist()
                names = sorted(
                    {
                        n[len(inner) :].split("/")[0]
                        for n in listing
                        if n.startswith(inner)
                        and n[len(inner) :].split("/")[0].endswith(".dist-info")
                    }
                )
                result = (archive, inner, names)
            except (OSError, zipfile.BadZipFile):
                result = None
        _LISTINGS[entry] = result
        return result


def _indexed_names(archive: str) -> list[str] | None:
    """The member names from the importer's index (no central directory parse)."""
    try:
        import _apepy_importer
    except ImportError:
        return None
    store = _apepy_importer._get_store()
    if store and store.path == archive:
        return list(store.members)
    return None


def install_metadata_finder() -> None:
    import sys

    if ZipMetadataFinder not in sys.meta_path:
        sys.meta_path.append(ZipMetadataFinder)
