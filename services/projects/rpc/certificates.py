"""CertificateService: requests to domain calls, rows to messages (private keys masked, except the
reveal's)."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.sealing import Sealer
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import certificates
from services.projects.rpc.servicer import ProjectsServicer


class CertificateServicer(ProjectsServicer, projects_pb2_grpc.CertificateServiceServicer):
    def __init__(self, runtime: ServiceRuntime, sealer: Sealer) -> None:
        super().__init__(runtime)
        self.sealer = sealer

    async def ListCertificates(self, request, context) -> projects_pb2.ListCertificatesResponse:
        caller = await self.caller()
        rows, next_page_token = await certificates.list_certificates(
            self.pool,
            caller,
            protoconv.parse_id(request.domain_id, "domain_id"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return projects_pb2.ListCertificatesResponse(
            certificates=[convert.certificate(row) for row in rows], next_page_token=next_page_token
        )

    async def ListExpiringCertificates(self, request, context) -> projects_pb2.ListCertificatesResponse:
        caller = await self.caller()
        rows, next_page_token = await certificates.list_expiring(
            self.pool,
            caller,
            within_days=request.within_days,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return projects_pb2.ListCertificatesResponse(
            certificates=[convert.certificate(row) for row in rows], next_page_token=next_page_token
        )

    async def GetCertificate(self, request, context) -> projects_pb2.Certificate:
        caller = await self.caller()
        certificate_id = protoconv.parse_id(request.certificate_id, "certificate_id")
        return convert.certificate(await certificates.get_certificate(self.pool, caller, certificate_id))

    async def CreateCertificate(self, request, context) -> projects_pb2.Certificate:
        caller = await self.caller()
        certificate = request.certificate
        row = await certificates.create_certificate(
            self.pool,
            self.sealer,
            caller,
            protoconv.parse_id(request.domain_id, "domain_id"),
            certificate=certificate.certificate,
            private_key=certificate.private_key,
            issuer=certificate.issuer,
        )
        return convert.certificate(row)

    async def UpdateCertificate(self, request, context) -> projects_pb2.Certificate:
        caller = await self.caller()
        certificate_id = protoconv.parse_id(request.certificate.id, "certificate.id")
        changes = protoconv.mask_changes(
            request.update_mask, request.certificate, certificates.UPDATABLE_FIELDS
        )
        row = await certificates.update_certificate(self.pool, self.sealer, caller, certificate_id, changes)
        return convert.certificate(row)

    async def DeleteCertificate(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        certificate_id = protoconv.parse_id(request.certificate_id, "certificate_id")
        await certificates.delete_certificate(self.pool, caller, certificate_id)
        return empty_pb2.Empty()

    async def RevealCertificatePrivateKey(self, request, context) -> projects_pb2.Certificate:
        caller = await self.caller()
        certificate_id = protoconv.parse_id(request.certificate_id, "certificate_id")
        row, private_key = await certificates.reveal_private_key(
            self.pool, self.sealer, caller, certificate_id
        )
        return convert.certificate(row, revealed_private_key=private_key)
