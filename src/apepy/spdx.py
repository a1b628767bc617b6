"""`apepy sbom --format spdx`: the file's CycloneDX SBOM as an SPDX 2.3 JSON document.

Written and validated by SPDX's own library (spdx-tools), an optional dependency
(``pip install 'apepy[spdx]'``): the CycloneDX member stays the one record.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

from cyclonedx.model import ExternalReferenceType, HashAlgorithm
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component

from apepy import sbom
from apepy.errors import ApepyError

_NOT_ID = re.compile(r"[^A-Za-z0-9.-]+")


def from_cyclonedx(bom: Bom, name: str) -> bytes:
    """The SPDX 2.3 JSON document that says what ``bom`` says (named ``name``)."""
    try:
        from license_expression import ExpressionError, get_spdx_licensing
        from spdx_tools.spdx.model.actor import Actor, ActorType
        from spdx_tools.spdx.model.checksum import Checksum, ChecksumAlgorithm
        from spdx_tools.spdx.model.document import CreationInfo, Document
        from spdx_tools.spdx.model.extracted_licensing_info import ExtractedLicensingInfo
        from spdx_tools.spdx.model.package import (
            ExternalPackageRef,
            ExternalPackageRefCategory,
            Package,
        )
        from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
        from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
        from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream
    except ImportError as exc:
        raise ApepyError(
            "--format spdx needs SPDX's library (spdx-tools), which is not installed",
            hint="pip install 'apepy[spdx]' (or use the CycloneDX SBOM: apepy sbom FILE)",
        ) from exc
    licensing = get_spdx_licensing()
    extracted: dict[str, str] = {}

    def licence(component: Component) -> Any:
        text = sbom.licence_text(component)
        if not text:
            return SpdxNoAssertion()
        try:
            return licensing.parse(text, validate=True)
        except ExpressionError:
            pass
        # Not on SPDX's list: a LicenseRef apepy wrote, or a licence by its name (a
        # wheel's classifier), which the document then defines.
        ref = (
            text
            if re.fullmatch(r"LicenseRef-[A-Za-z0-9.-]+", text)
            else ("LicenseRef-" + _NOT_ID.sub("-", text).strip("-"))
        )
        extracted.setdefault(ref, text)
        return licensing.parse(ref)

    def package(component: Component) -> Any:
        url = next(
            (
                str(r.url)
                for r in component.external_references
                if r.type == ExternalReferenceType.DISTRIBUTION
            ),
            None,
        )
        return Package(
            spdx_id=_spdx_id(component),
            name=component.name,
            version=component.version,
            download_location=url or SpdxNoAssertion(),
            files_analyzed=False,
            checksums=[
                Checksum(ChecksumAlgorithm.SHA256, h.content)
                for h in component.hashes
                if h.alg == HashAlgorithm.SHA_256
            ],
            license_declared=licence(component),
            license_concluded=SpdxNoAssertion(),
            copyright_text=SpdxNoAssertion(),
            description=component.description,
            external_references=[
                ExternalPackageRef(
                    ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", str(component.purl)
                )
            ]
            if component.purl
            else [],
        )

    root = bom.metadata.component
    components = sorted(bom.components, key=lambda c: str(c.bom_ref))
    packages = [package(c) for c in ([root] if root else []) + components]
    relationships = [
        Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, packages[0].spdx_id)
    ]
    by_ref = {str(c.bom_ref): c for c in [*components, *([root] if root else [])]}
    for dependency in sorted(bom.dependencies, key=lambda d: str(d.ref)):
        for target in sorted(dependency.dependencies, key=lambda d: str(d.ref)):
            if str(dependency.ref) in by_ref and str(target.ref) in by_ref:
                relationships.append(
                    Relationship(
                        _spdx_id(by_ref[str(dependency.ref)]),
                        RelationshipType.DEPENDS_ON,
                        _spdx_id(by_ref[str(target.ref)]),
                    )
                )
    tools = [f"{t.name}-{t.version}" for t in bom.metadata.tools.components]
    document = Document(
        creation_info=CreationInfo(
            spdx_version="SPDX-2.3",
            spdx_id="SPDXRef-DOCUMENT",
            name=name,
            # The CycloneDX serial number (a URN): the same file, the same namespace.
            document_namespace=bom.get_urn_uuid(),
            creators=[Actor(ActorType.TOOL, t) for t in tools],
            created=bom.metadata.timestamp or datetime.fromtimestamp(0, tz=UTC),
        ),
        packages=packages,
        relationships=relationships,
        extracted_licensing_info=[
            ExtractedLicensingInfo(
                license_id=ref,
                extracted_text=f"the licence named {text!r} in the component's metadata",
                license_name=text,
            )
            for ref, text in sorted(extracted.items())
        ],
    )
    stream = io.StringIO()
    write_document_to_stream(document, stream, validate=True)
    return (stream.getvalue() + "\n").encode()


def _spdx_id(component: Component) -> str:
    return "SPDXRef-" + _NOT_ID.sub("-", str(component.bom_ref)).strip("-")
