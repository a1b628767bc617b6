"""The CycloneDX 1.6 SBOM every file apepy writes carries (``.apepy/sbom.cdx.json``).

An interpreter's lists CPython, the C libraries it links, the packages compiled in,
and apepy and the compiler as tools; a bundle's is its base's with the app as the
root and every installed wheel added. The document is written and read with
cyclonedx-python-lib, never by hand, and is reproducible: its serial number is
derived from its inputs and its timestamp is the build's SOURCE_DATE_EPOCH date.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import HeaderParser
from pathlib import Path

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from installer.sources import WheelFile
from packageurl import PackageURL

import apepy
from apepy import licences, sources, zipstore
from apepy.errors import ApepyError
from apepy.layout import APEPY_DIR
from apepy.linked import LinkedLibrary
from apepy.manifest import Manifest

# The member every file apepy writes carries. Not in layout.py: that module is part of
# the CPython build's code digest, and a name there would rebuild every cached CPython.
SBOM_ARCNAME = APEPY_DIR + "sbom.cdx.json"

# Derives serial numbers: same inputs, same document.
# The bom-ref prefix of the compiled-in packages' run-time dependencies.
RUNTIME_DEPENDENCY = "runtime-dependency:"
_NAMESPACE = uuid.UUID("4f1b6a52-3c64-5e0b-9a57-6170657079ab")
_PROPERTY = "apepy:"


@dataclass(frozen=True)
class WheelPart:
    """A wheel installed into a bundle."""

    name: str
    version: str
    filename: str
    sha256: str
    license: str = ""
    url: str = ""
    # C extension files the static base cannot load, left out of the install.
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompiledPart:
    """A package compiled into the interpreter (apepy build --with)."""

    name: str
    version: str
    sdist_sha256: str
    modules: tuple[str, ...]
    license: str = ""
    libs: dict[str, tuple[str, ...]] = field(default_factory=dict)


def for_interpreter(
    manifest: Manifest,
    libs: list[LinkedLibrary],
    compiled: list[CompiledPart],
    dependency_licences: dict[str, str] | None = None,
) -> bytes:
    """The SBOM of an interpreter apepy built. ``dependency_licences``: the licence each
    run-time dependency's wheel states, by name."""
    dependency_licences = dependency_licences or {}
    root = Component(
        name="python",
        type=ComponentType.APPLICATION,
        version=manifest.python_version,
        bom_ref="apepy-interpreter",
        description=f"single-file CPython {manifest.python_version} built by apepy",
        properties=_properties(
            target=manifest.target,
            toolchain=manifest.toolchain,
            output_kind=manifest.output_kind,
            build_key=manifest.build_key,
        ),
    )
    release = sources.pinned(manifest.python_version)
    cpython = Component(
        name="cpython",
        version=manifest.python_version,
        bom_ref="cpython",
        description="CPython: the interpreter and its standard library",
        licenses=_licences(licences.CPYTHON),
        hashes=[_sha256(manifest.source_sha256)],
        purl=PackageURL("generic", "python", "cpython", manifest.python_version),
        external_references=_download(
            sources.URL_TEMPLATE.format(version=release.version, filename=release.filename)
            if release and manifest.source_pinned
            else ""
        ),
        properties=_properties(
            source_pinned=str(manifest.source_pinned).lower(),
            patch=manifest.patches,
            excluded_module=manifest.excluded_modules,
        ),
    )
    parts = [cpython]
    for lib in libs:
        parts.append(
            Component(
                name=lib.name,
                version=lib.version or None,
                bom_ref=f"c-library:{lib.name}:{lib.origin}",
                licenses=_licences(lib.license),
                hashes=[_sha256(lib.sha256)] if lib.sha256 else [],
                purl=_library_purl(lib),
                external_references=_download(lib.url),
                properties=_properties(
                    origin=lib.origin,
                    archive=lib.archives,
                    linked_by=lib.used_by,
                    system_package=lib.package,
                    source_package=lib.source_package,
                ),
            )
        )
    for part in compiled:
        parts.append(
            Component(
                name=part.name,
                version=part.version,
                bom_ref=f"compiled-in:{part.name}",
                description="compiled into the interpreter from its sdist",
                licenses=_licences(part.license),
                hashes=[_sha256(part.sdist_sha256)],
                purl=PackageURL("pypi", None, part.name, part.version),
                properties=_properties(compiled_module=part.modules),
            )
        )
    for dep in manifest.runtime_dependencies:
        # The pure-Python wheels the compiled-in packages need, in site-packages.
        parts.append(
            Component(
                name=dep.name,
                version=dep.version,
                bom_ref=f"{RUNTIME_DEPENDENCY}{dep.name}",
                description="a run-time dependency of the packages compiled in",
                licenses=_licences(dependency_licences.get(dep.name, "")),
                hashes=[_sha256(dep.sha256)],
                purl=PackageURL("pypi", None, dep.name, dep.version, {"file_name": dep.wheel}),
                properties=_properties(required_by=dep.required_by),
            )
        )
    bom = Bom(
        serial_number=uuid.uuid5(_NAMESPACE, manifest.build_key),
        metadata=BomMetaData(
            component=root, timestamp=_timestamp(manifest.source_date_epoch), tools=None
        ),
        components=parts,
    )
    _tools(bom, manifest)
    bom.register_dependency(root, parts)
    return _render(bom)


def for_bundle(
    base_sbom: bytes | None,
    base_manifest: Manifest | None,
    app: tuple[str, str],
    wheels: list[WheelPart],
    epoch: int,
) -> bytes:
    """The SBOM of a bundle: its base's (when the base carries one, or made from the
    base's manifest) with the app as the root and every installed wheel."""
    if base_sbom is not None:
        bom = parse(base_sbom)
    elif base_manifest is not None:
        bom = parse(for_interpreter(base_manifest, [], []))
    else:
        bom = Bom()
    base_root = bom.metadata.component
    name, version = app
    root = Component(
        name=name,
        type=ComponentType.APPLICATION,
        version=version,
        bom_ref="apepy-bundle",
        description="an app bundled by apepy",
    )
    parts = []
    for wheel in wheels:
        parts.append(
            Component(
                name=wheel.name,
                version=wheel.version,
                bom_ref=f"wheel:{wheel.name}",
                licenses=_licences(wheel.license),
                hashes=[_sha256(wheel.sha256)],
                purl=PackageURL(
                    "pypi", None, wheel.name, wheel.version, {"file_name": wheel.filename}
                ),
                external_references=_download(wheel.url),
                properties=_properties(dropped_extension=wheel.dropped),
            )
        )
    for part in parts:
        bom.components.add(part)
    depends = list(parts)
    if base_root is not None:
        bom.components.add(base_root)
        depends.append(base_root)
    digest = hashlib.sha256(
        json.dumps(
            [str(bom.serial_number) if base_sbom else "", app, [w.sha256 for w in wheels]]
        ).encode()
    ).hexdigest()
    bom.serial_number = uuid.uuid5(_NAMESPACE, digest)
    bom.metadata.component = root
    bom.metadata.timestamp = _timestamp(epoch)
    if base_manifest is not None:
        _tools(bom, base_manifest)
    bom.register_dependency(root, depends)
    return _render(bom)


def parse(raw: bytes) -> Bom:
    """The SBOM in ``raw``; ValueError when it is not one."""
    try:
        data = json.loads(raw)
        with warnings.catch_warnings():
            # The library warns about documents whose dependency graph it cannot
            # check; apepy's are whole.
            warnings.simplefilter("ignore")
            bom = Bom.from_json(data)  # type: ignore[attr-defined]
    except Exception as exc:  # the library raises many types for a bad document
        raise ValueError(f"not a CycloneDX JSON document: {exc}") from exc
    if not isinstance(bom, Bom):
        raise ValueError("not a CycloneDX JSON document")
    return bom


def read(path: Path) -> bytes | None:
    """The SBOM member of ``path``, raw (None: the file carries none)."""
    return zipstore.read_member(path, SBOM_ARCNAME)


def load(path: Path) -> Bom | None:
    raw = read(path)
    if raw is None:
        return None
    try:
        return parse(raw)
    except ValueError as exc:
        raise ApepyError(
            f"{path} carries a damaged SBOM ({SBOM_ARCNAME}: {exc})",
            hint="rebuild the file with apepy build / bundle",
        ) from exc


@dataclass(frozen=True)
class LicenceSummary:
    # licence → component names
    by_licence: dict[str, list[str]]
    unknown: list[str]
    # "name version (licence)" of the components whose licence is copyleft
    strong: list[str]
    weak: list[str]


def summary(bom: Bom) -> LicenceSummary:
    by_licence: dict[str, list[str]] = {}
    unknown: list[str] = []
    strong: list[str] = []
    weak: list[str] = []
    for component in sorted(bom.components, key=lambda c: (c.name, c.version or "")):
        if component.type == ComponentType.APPLICATION:
            continue  # a bundle's base: its parts are listed on their own
        text = licence_text(component)
        label = f"{component.name} {component.version or ''}".strip()
        if not text:
            unknown.append(label)
            continue
        by_licence.setdefault(text, []).append(component.name)
        kind = licences.copyleft(text)
        if kind == "strong":
            strong.append(f"{label} ({text})")
        elif kind == "weak":
            weak.append(f"{label} ({text})")
    return LicenceSummary(by_licence, unknown, strong, weak)


def licence_text(component: Component) -> str:
    """A component's licences as one string: the SPDX expression, ids or names."""
    texts = []
    for item in component.licenses:
        if isinstance(item, LicenseExpression):
            texts.append(item.value)
        elif isinstance(item, DisjunctiveLicense):
            texts.append(item.id or item.name or "")
    return " AND ".join(t for t in texts if t)


def property_values(component: Component, name: str) -> list[str]:
    return sorted(p.value or "" for p in component.properties if p.name == _PROPERTY + name)


def metadata_licence(metadata: str) -> str:
    """A distribution's licence from its METADATA: PEP 639's License-Expression, else
    a one-line License field, else its licence classifiers (by their names)."""
    headers = HeaderParser().parsestr(metadata)
    expression = (headers.get("License-Expression") or "").strip()
    if expression:
        return expression
    text = (headers.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 100:
        return text
    classifiers = [
        c.split("::")[-1].strip()
        for c in headers.get_all("Classifier") or []
        if c.startswith("License ::") and c.strip() != "License :: OSI Approved"
    ]
    return " AND ".join(sorted(set(classifiers)))


def wheel_licence(wheel: Path) -> str:
    """The licence a wheel's METADATA states ("" when it cannot be read)."""
    try:
        with WheelFile.open(wheel) as source:
            return metadata_licence(source.read_dist_info("METADATA"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return ""


def _licences(text: str) -> list[LicenseExpression | DisjunctiveLicense]:
    if not text:
        return []
    return [LicenseFactory().make_from_string(text)]


def _sha256(digest: str) -> HashType:
    return HashType(alg=HashAlgorithm.SHA_256, content=digest)


def _download(url: str) -> list[ExternalReference]:
    if not url:
        return []
    return [ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(url))]


def _properties(**values: str | Iterable[str]) -> list[Property]:
    found = []
    for key, value in values.items():
        items = [value] if isinstance(value, str) else list(value)
        name = _PROPERTY + key.replace("_", "-")
        found += [Property(name=name, value=item) for item in items if item]
    return found


def _library_purl(lib: LinkedLibrary) -> PackageURL | None:
    if lib.origin in ("system", "toolchain") and lib.package and lib.version:
        return PackageURL("deb", "debian", lib.package, lib.version)
    if lib.origin == "source":
        return PackageURL("generic", None, lib.name, lib.version)
    return None


def _timestamp(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _tools(bom: Bom, manifest: Manifest) -> None:
    tools = bom.metadata.tools.components
    tools.add(
        Component(
            name="apepy",
            type=ComponentType.APPLICATION,
            version=apepy.__version__,
            bom_ref=f"tool:apepy:{apepy.__version__}",
        )
    )
    if manifest.compiler:
        tools.add(
            Component(
                name=manifest.toolchain + " compiler",
                type=ComponentType.APPLICATION,
                version=manifest.compiler,
                bom_ref=f"tool:compiler:{manifest.toolchain}",
            )
        )


def _render(bom: Bom) -> bytes:
    return (JsonV1Dot6(bom).output_as_string(indent=1) + "\n").encode()
