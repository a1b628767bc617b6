"""apepy's run-time support inside a single-file interpreter."""

import os

CA_BUNDLE = "_apepy_data/cacert.pem"

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


def load_fallback_cas(context):
    """Give ``context`` a CA store when OpenSSL's default paths have none.

    The default paths (and SSL_CERT_FILE / SSL_CERT_DIR) win when they exist; then
    a system bundle at a well-known path; last, the bundle stored in this file.
    """
    import ssl

    paths = ssl.get_default_verify_paths()
    if paths.cafile or paths.capath:
        return
    for bundle in _SYSTEM_BUNDLES:
        if os.path.isfile(bundle):
            context.load_verify_locations(cafile=bundle)
            return
    context.load_verify_locations(cadata=bundled_cas())


def bundled_cas():
    """The PEM text of the CA bundle stored in the executable's zip."""
    here = os.path.dirname(__file__)
    data = __loader__.get_data(os.path.join(here, CA_BUNDLE))
    return data.decode("ascii")
