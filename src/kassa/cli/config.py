"""`kassa config check`: every setting (secrets hidden), then whether this can work."""

from __future__ import annotations

from typing import Annotated

import typer

from kassa.cli.bootstrap import EXIT_FAILED, load_settings, new_app, run

app = new_app("Inspect the configuration.")


@app.command("check")
def config_check(
    connect: Annotated[
        bool,
        typer.Option(
            "--connect/--no-connect",
            help="Connect to the database, Redis and SMTP server (the default).",
        ),
    ] = True,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each service.", min=0.1)
    ] = 5.0,
) -> None:
    """Print what is set, what is missing, and exit 1 when the configuration cannot work."""
    from kassa.config_check import check_settings, provider_rows, summary
    from kassa.config_probe import import_plugins, probe_all

    settings = load_settings()
    rows = summary(settings)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        typer.echo(f"  {name:<{width}} {value}")
    # Plugins first: one may bring a provider adapter the provider check then knows.
    problems = import_plugins(settings)
    typer.echo("providers (the install's credentials; secrets as hints):")
    for name, value in provider_rows(settings):
        typer.echo(f"  {name:<{width}} {value}")
    problems += check_settings(settings)
    if connect and not any(p.setting == "KASSA_DATABASE_URL" and p.fatal for p in problems):
        problems += run(lambda: probe_all(settings, timeout))
    for p in problems:
        colour = typer.colors.RED if p.fatal else typer.colors.YELLOW
        typer.secho(f"{'error' if p.fatal else 'warning'}: {p.setting}: {p.message}", fg=colour)
    if any(p.fatal for p in problems):
        raise typer.Exit(EXIT_FAILED)
    typer.secho("The configuration can work.", fg=typer.colors.GREEN)
