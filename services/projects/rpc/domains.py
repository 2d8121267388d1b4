"""DomainService: requests to domain calls, rows to messages."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import domains
from services.projects.rpc.caller import projects_caller


def _changes(domain: projects_pb2.Domain, paths: set[str]) -> dict:
    return {
        path: protoconv.parse_id(domain.target_id, "target_id")
        if path == "target_id"
        else getattr(domain, path)
        for path in paths
    }


class DomainServicer(projects_pb2_grpc.DomainServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def ListDomains(self, request, context) -> projects_pb2.ListDomainsResponse:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        rows, next_page_token = await domains.list_domains(
            pool,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return projects_pb2.ListDomainsResponse(
            domains=[convert.domain(row) for row in rows], next_page_token=next_page_token
        )

    async def GetDomain(self, request, context) -> projects_pb2.Domain:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        domain_id = protoconv.parse_id(request.domain_id, "domain_id")
        return convert.domain(await domains.get_domain(pool, caller, domain_id))

    async def CreateDomain(self, request, context) -> projects_pb2.Domain:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        domain = request.domain
        row = await domains.create_domain(
            pool,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            domain=domain.domain,
            target_type=domain.target_type,
            target_id=protoconv.parse_id(domain.target_id, "target_id"),
            tls_enabled=domain.tls_enabled,
        )
        return convert.domain(row)

    async def UpdateDomain(self, request, context) -> projects_pb2.Domain:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        domain_id = protoconv.parse_id(request.domain.id, "domain.id")
        paths = protoconv.mask_paths(request.update_mask, request.domain, domains.UPDATABLE_FIELDS)
        row = await domains.update_domain(pool, caller, domain_id, _changes(request.domain, paths))
        return convert.domain(row)

    async def DeleteDomain(self, request, context) -> empty_pb2.Empty:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        await domains.delete_domain(pool, caller, protoconv.parse_id(request.domain_id, "domain_id"))
        return empty_pb2.Empty()
