"""deploy, logs, rollback, cancel, and `deployments list|get`.

`dockyard deploy APP` queues a deployment, follows its log live (a spinner shows its status on a
terminal) and ends with the outcome: exit code 0 for success, 1 for failed or rolled_back. Ctrl-C
stops following only: the deployment keeps running on the server, and the command says how to
cancel it (exit code 130)."""

import threading
import uuid

import typer
from rich.markup import escape

from dockyard.deployer.v1 import deployer_pb2, deployer_pb2_grpc
from dockyard_cli.client import Client, CliError
from dockyard_cli.commands.apps import APP_ARGUMENT, PROJECT_OPTION
from dockyard_cli.context import EXIT_INTERRUPTED, command, state
from dockyard_cli.output import Output, as_dict
from dockyard_cli.resolve import PAGE_SIZE, application_id, pages

app = typer.Typer(help="An application's deployments.", no_args_is_help=True)
COLUMNS = ["id", "status", "started_at", "completed_at", "commit_sha", "triggered_by"]
FIELDS = ["id", "application_id", "status", "commit_sha", "metadata", "started_at", "completed_at",
          "triggered_by", "request_id"]  # fmt: skip
FINAL = ("success", "failed", "rolled_back")
LEVEL_STYLES = {"debug": "dim", "info": "", "warn": "yellow", "error": "bold red"}
STATUS_POLL_SECONDS = 1.0


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="deployments")
    command(root, "deploy")(deploy)
    command(root, "logs")(logs)
    command(root, "rollback")(rollback)
    command(root, "cancel")(cancel)


def _stub(client: Client):
    return client.stub(deployer_pb2_grpc.DeploymentServiceStub)


def print_line(output: Output, line: deployer_pb2.DeploymentLogLine) -> None:
    if output.json:
        output.errors.print(line.message, markup=False, highlight=False)
        return
    stamp = line.created_at.ToDatetime().strftime("%H:%M:%S") if line.HasField("created_at") else ""
    style = LEVEL_STYLES.get(line.level, "")
    if output.terminal:
        text = f"[dim]{stamp}[/dim] {escape(line.message)}"
        output.console.print(f"[{style}]{text}[/{style}]" if style else text, highlight=False)
    else:
        output.console.print(f"{stamp} {line.level:5} {line.message}", markup=False, highlight=False)


def outcome(output: Output, deployment: deployer_pb2.Deployment) -> int:
    """Prints how the deployment ended; its exit code."""
    if output.json:
        output.print_json(as_dict(deployment))
    else:
        metadata = as_dict(deployment).get("metadata", {})
        took = f" in {float(metadata['duration_seconds']):.1f} s" if "duration_seconds" in metadata else ""
        reason = f": {metadata['reason']}" if metadata.get("reason") else ""
        style = "bold green" if deployment.status == "success" else "bold red"
        output.errors.print(
            f"Deployment {deployment.id} {deployment.status}{took}{reason}", style=style, markup=False
        )
    return 0 if deployment.status == "success" else 1


class StatusWatcher:
    """Polls the deployment's status in the background and shows it in the spinner's text, so the
    spinner says where the deployment is even while no log line arrives."""

    def __init__(self, client: Client, deployment_id: str, spinner, label: str) -> None:
        self.client, self.deployment_id = client, deployment_id
        self.spinner, self.label = spinner, label
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        stub = _stub(self.client)
        request = deployer_pb2.GetDeploymentRequest(deployment_id=self.deployment_id)
        while not self.stopped.wait(STATUS_POLL_SECONDS):
            try:
                status = self.client.call(stub.GetDeployment, request).status
            except CliError:
                continue  # the spinner keeps its last status; the log stream reports real failures
            self.spinner.update(f"{self.label}: {status}")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()


def follow(
    client: Client, output: Output, deployment_id: str, label: str, level: str = ""
) -> deployer_pb2.Deployment:
    """Prints the deployment's log as it is written until it ends; the deployment as it ended."""
    stub = _stub(client)
    request = deployer_pb2.FollowDeploymentLogsRequest(deployment_id=deployment_id, level=level)
    lines = client.stream(stub.FollowDeploymentLogs, request)
    if output.terminal and not output.json:
        with (
            # The spinner lives on the console the lines are printed to, which keeps it below them.
            output.console.status(f"{label}: pending") as spinner,
            StatusWatcher(client, deployment_id, spinner, label),
        ):
            for line in lines:
                print_line(output, line)
    else:
        for line in lines:
            print_line(output, line)
    # The stream ends once the deployment has; its final record says how.
    return client.call(stub.GetDeployment, deployer_pb2.GetDeploymentRequest(deployment_id=deployment_id))


def follow_to_the_end(
    client: Client, output: Output, deployment: deployer_pb2.Deployment, label: str, announcement: str
) -> None:
    """Announce the queued deployment, follow it, print the outcome and exit with its code; on
    Ctrl-C (from the announcement on: once it is printed, someone may react to it) say the
    deployment goes on."""
    try:
        output.note(announcement)
        ended = follow(client, output, deployment.id, label)
    except KeyboardInterrupt:
        output.note(
            f"\nStopped following. Deployment {deployment.id} keeps running on the server; "
            f"follow it with `dockyard logs {deployment.id} --follow`, "
            f"or cancel it with `dockyard cancel {deployment.id}`."
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(outcome(output, ended))


def deploy(
    ctx: typer.Context,
    app_ref: str = APP_ARGUMENT,
    project: str = PROJECT_OPTION,
    git_ref: str = typer.Option(
        "", "--git-ref", help="A branch, tag or commit to build instead of the git source's branch."
    ),
    detach: bool = typer.Option(False, "--detach", "-d", help="Queue it and return without following."),
) -> None:
    """Deploy an application as it is now and follow the deployment to its end.

    Exit code 0 when it succeeds, 1 when it fails or is rolled back. Ctrl-C stops following; the
    deployment goes on (cancel it with `dockyard cancel DEPLOYMENT`).

    Examples:

        dockyard deploy web --project my-saas-app

        dockyard deploy 0b6f...-app-id --git-ref v1.4.2
    """
    current = state(ctx)
    client, output = current.client, current.output
    target = application_id(client, app_ref, project)
    # A retry after a lost answer returns the same deployment rather than queuing a second one.
    request = deployer_pb2.CreateDeploymentRequest(
        application_id=target, git_ref=git_ref, request_id=f"cli-{uuid.uuid4()}"
    )
    deployment = client.call(_stub(client).CreateDeployment, request)
    if detach:
        output.record(deployment, FIELDS)
        return
    follow_to_the_end(
        client,
        output,
        deployment,
        f"Deploying {app_ref}",
        f"Deployment {deployment.id} queued for {app_ref}.",
    )


def logs(
    ctx: typer.Context,
    deployment_id: str = typer.Argument(..., help="The deployment's id."),
    follow_: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new lines until the deployment ends."
    ),
    level: str = typer.Option("", help="debug, info, warn or error: this level and above."),
) -> None:
    """A deployment's log: the stored lines, or with --follow every new one too until the
    deployment ends (exit code 0 if it succeeded, 1 if not).

    Examples:

        dockyard logs 3f2c... --follow

        dockyard logs 3f2c... --level warn
    """
    current = state(ctx)
    client, output = current.client, current.output
    stub = _stub(client)
    if follow_:
        try:
            ended = follow(client, output, deployment_id, f"Deployment {deployment_id}", level)
        except KeyboardInterrupt:
            output.note("\nStopped following (the deployment is not affected).")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        raise typer.Exit(outcome(output, ended))
    request = deployer_pb2.ListDeploymentLogsRequest(
        deployment_id=deployment_id, page_size=PAGE_SIZE, level=level
    )
    lines = pages(client, stub.ListDeploymentLogs, request, "lines")
    if output.json:
        output.print_json({"lines": [as_dict(line) for line in lines]})
        return
    for line in lines:
        print_line(output, line)


def rollback(
    ctx: typer.Context,
    app_ref: str = APP_ARGUMENT,
    project: str = PROJECT_OPTION,
    to: str = typer.Option(
        "", "--to", help="The successful deployment to go back to (default: the previous one)."
    ),
    detach: bool = typer.Option(False, "--detach", "-d", help="Queue it and return without following."),
) -> None:
    """Deploy the image of an earlier successful deployment again, and follow it.

    Example:

        dockyard rollback web --project my-saas-app
    """
    current = state(ctx)
    client, output = current.client, current.output
    request = deployer_pb2.RollbackApplicationRequest(
        application_id=application_id(client, app_ref, project),
        deployment_id=to,
        request_id=f"cli-{uuid.uuid4()}",
    )
    deployment = client.call(_stub(client).RollbackApplication, request)
    if detach:
        output.record(deployment, FIELDS)
        return
    follow_to_the_end(
        client,
        output,
        deployment,
        f"Rolling {app_ref} back",
        f"Rollback {deployment.id} queued for {app_ref}.",
    )


def cancel(ctx: typer.Context, deployment_id: str = typer.Argument(..., help="The deployment's id.")) -> None:
    """Cancel a deployment: a pending one ends at once, a running one stops and the previous
    version keeps running.

    Example:

        dockyard cancel 3f2c...
    """
    current = state(ctx)
    client = current.client
    cancelled = client.call(
        _stub(client).CancelDeployment, deployer_pb2.CancelDeploymentRequest(deployment_id=deployment_id)
    )
    current.output.record(cancelled, FIELDS)


@command(app, "list")
def list_deployments(
    ctx: typer.Context,
    app_ref: str = APP_ARGUMENT,
    project: str = PROJECT_OPTION,
    status: str = typer.Option("", help="pending, building, deploying, success, failed or rolled_back."),
    limit: int = typer.Option(20, min=1, max=1000, help="At most this many, newest first."),
) -> None:
    """An application's deployments, newest first.

    Example:

        dockyard deployments list web --project my-saas-app --status success
    """
    client = state(ctx).client
    request = deployer_pb2.ListDeploymentsRequest(
        application_id=application_id(client, app_ref, project),
        page_size=min(limit, PAGE_SIZE),
        status=status,
    )
    found = []
    for deployment in pages(client, _stub(client).ListDeployments, request, "deployments"):
        found.append(deployment)
        if len(found) >= limit:
            break
    state(ctx).output.table(found, COLUMNS, key="deployments")


@command(app, "get")
def get_deployment(
    ctx: typer.Context, deployment_id: str = typer.Argument(..., help="The deployment's id.")
) -> None:
    """One deployment.

    Example:

        dockyard deployments get 3f2c...
    """
    client = state(ctx).client
    found = client.call(
        _stub(client).GetDeployment, deployer_pb2.GetDeploymentRequest(deployment_id=deployment_id)
    )
    state(ctx).output.record(found, FIELDS)
