"""ListApplications over 1,000 applications in one project: p95 under 20 ms (issue 4).

Seeds 1,000 applications straight into the projects schema (one INSERT; the API would only add
a thousand round trips that measure nothing about listing), then times the first page (50) of
ListApplications through the gateway, over gRPC and over REST, plus a filtered page and a page
reached by its token.

    make bench            # every benchmark
    .venv/bin/python -m bench.list_applications
"""

import asyncio
import http.client
import json

import asyncpg
import grpc
from rich.console import Console
from rich.table import Table

from bench.support import percentiles, platform, sign_in_admin, timed
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc

APPLICATIONS = 1_000
REQUESTS = 300
PAGE_SIZE = 50
TARGET_P95_MS = 20.0


async def seed_applications(dsn: str, project_id: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO projects.applications (project_id, name, type, source_type, status, docker_config, created_at)
            SELECT $1::uuid, 'app-' || lpad(n::text, 4, '0'), 'docker', 'docker',
                   (ARRAY['stopped', 'running', 'failed'])[1 + n % 3], '{"image": "nginx:1.27"}',
                   now() - n * interval '1 second'
            FROM generate_series(1, $2) AS n
            """,
            project_id,
            APPLICATIONS,
        )
        await conn.execute("ANALYZE projects.applications")
    finally:
        await conn.close()


def measure(call) -> dict:
    for _ in range(20):  # warm up connections and plans
        call()
    return percentiles([timed(call) for _ in range(REQUESTS)])


def main() -> None:
    console = Console()
    with platform() as running:
        with grpc.insecure_channel(running.gateway) as channel:
            token = sign_in_admin(channel)
            metadata = (("authorization", f"Bearer {token}"),)
            project = projects_pb2_grpc.ProjectServiceStub(channel).CreateProject(
                projects_pb2.CreateProjectRequest(project=projects_pb2.Project(name="bench-project")),
                metadata=metadata,
                timeout=5,
            )
            console.print(f"seeding {APPLICATIONS:,} applications…")
            asyncio.run(seed_applications(running.admin_dsn(), project.id))
            stub = projects_pb2_grpc.ApplicationServiceStub(channel)

            def grpc_list(request):
                def call():
                    response = stub.ListApplications(request, metadata=metadata, timeout=5)
                    assert response.applications, "an empty page measures nothing"
                    return response

                return call

            first = projects_pb2.ListApplicationsRequest(project_id=project.id, page_size=PAGE_SIZE)
            deep = projects_pb2.ListApplicationsRequest(project_id=project.id, page_size=PAGE_SIZE)
            for _ in range(10):  # 500 applications in
                deep.page_token = grpc_list(deep)().next_page_token
            running_only = projects_pb2.ListApplicationsRequest(
                project_id=project.id, page_size=PAGE_SIZE, status="running"
            )
            host, port = running.gateway.rsplit(":", 1)
            connection = http.client.HTTPConnection(host, int(port), timeout=5)

            def rest_first_page():
                connection.request(
                    "GET",
                    f"/v1/projects/{project.id}/applications?page_size={PAGE_SIZE}",
                    headers={"authorization": f"Bearer {token}"},
                )
                response = connection.getresponse()
                body = response.read()
                assert response.status == 200 and len(json.loads(body)["applications"]) == PAGE_SIZE

            queries = {
                ("gRPC", f"first page ({PAGE_SIZE})"): grpc_list(first),
                ("REST", f"first page ({PAGE_SIZE})"): rest_first_page,
                ("gRPC", f"page 11 ({PAGE_SIZE})"): grpc_list(deep),
                ("gRPC", f"status running ({PAGE_SIZE})"): grpc_list(running_only),
            }
            table = Table(
                title=f"ListApplications through the gateway, {APPLICATIONS:,} applications in one project,"
                f" {REQUESTS} requests each (ms)"
            )
            for column in ("protocol", "query", "p50", "p95", "p99", "max", f"p95 < {TARGET_P95_MS:.0f} ms"):
                table.add_column(column, justify="left" if column in ("protocol", "query") else "right")
            for (protocol, name), call in queries.items():
                result = measure(call)
                verdict = "[green]yes[/]" if result["p95"] < TARGET_P95_MS else "[red]no[/]"
                table.add_row(
                    protocol, name, *(f"{result[k]:.2f}" for k in ("p50", "p95", "p99", "max")), verdict
                )
            connection.close()
        console.print(table)
        console.print(f"target: p95 < {TARGET_P95_MS:.0f} ms for a page of {PAGE_SIZE} (issue 4)")


if __name__ == "__main__":
    main()
