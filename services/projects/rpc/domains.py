"""DomainService: requests to domain calls, rows to messages (the DNS challenge for the project's
writers only)."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from services.projects import convert, dns_challenge
from services.projects.domain import domains
from services.projects.rpc.servicer import ProjectsServicer


class DomainServicer(ProjectsServicer, projects_pb2_grpc.DomainServiceServicer):
    def txt_lookup(self) -> dns_challenge.TxtLookup:
        settings = self.runtime.settings
        return dns_challenge.TxtLookup(settings.DOCKYARD_DNS_RESOLVER, settings.DOCKYARD_DNS_TIMEOUT_SECONDS)

    async def ListDomains(self, request, context) -> projects_pb2.ListDomainsResponse:
        caller = await self.caller()
        rows, next_page_token, with_challenge = await domains.list_domains(
            self.session_pool,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return projects_pb2.ListDomainsResponse(
            domains=[convert.domain(row, with_challenge=with_challenge) for row in rows],
            next_page_token=next_page_token,
        )

    async def GetDomain(self, request, context) -> projects_pb2.Domain:
        caller = await self.caller()
        domain_id = protoconv.parse_id(request.domain_id, "domain_id")
        row, with_challenge = await domains.get_domain(self.session_pool, caller, domain_id)
        return convert.domain(row, with_challenge=with_challenge)

    async def CreateDomain(self, request, context) -> projects_pb2.Domain:
        caller = await self.caller()
        domain = request.domain
        row = await domains.create_domain(
            self.pool,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            domain=domain.domain,
            target_type=domain.target_type,
            target_id=protoconv.parse_id(domain.target_id, "target_id"),
            tls_enabled=domain.tls_enabled,
        )
        return convert.domain(row, with_challenge=True)

    async def UpdateDomain(self, request, context) -> projects_pb2.Domain:
        caller = await self.caller()
        domain_id = protoconv.parse_id(request.domain.id, "domain.id")
        changes = protoconv.mask_changes(
            request.update_mask, request.domain, domains.UPDATABLE_FIELDS, {"target_id": protoconv.parse_id}
        )
        row = await domains.update_domain(self.pool, caller, domain_id, changes)
        return convert.domain(row, with_challenge=True)

    async def DeleteDomain(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        await domains.delete_domain(self.pool, caller, protoconv.parse_id(request.domain_id, "domain_id"))
        return empty_pb2.Empty()

    async def VerifyDomain(self, request, context) -> projects_pb2.Domain:
        caller = await self.caller()
        domain_id = protoconv.parse_id(request.domain_id, "domain_id")
        row = await domains.verify_domain(self.pool, caller, domain_id, self.txt_lookup())
        return convert.domain(row, with_challenge=True)

    async def MarkDomainVerified(self, request, context) -> projects_pb2.Domain:
        caller = await self.caller()
        domain_id = protoconv.parse_id(request.domain_id, "domain_id")
        row = await domains.mark_domain_verified(self.pool, caller, domain_id)
        return convert.domain(row, with_challenge=True)
