"""Entry point of the `metainf` command.

Each role's group lives in its own module (``chain_cmd``, ``meta_cmd``,
``provider_cmd``, ...) so that a role's CLI can change without touching the others.
Groups are imported lazily: ``metainf meta eval`` must not pay for importing web3,
and ``metainf chain up`` must not import torch.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

# name -> (module, attribute, help)
_GROUPS: dict[str, tuple[str, str, str]] = {
    "chain": ("metainf_cli.chain_cmd", "chain", "Local testnet and deployment."),
    "meta": ("metainf_cli.meta_cmd", "meta", "Meta-learning: evaluate, train and query selectors."),
    "provider": (
        "metainf_cli.provider_cmd",
        "provider",
        "Provider agent: register, benchmark, attest, run jobs.",
    ),
    "backend": (
        "metainf_cli.backend_cmd",
        "backend",
        "Celery backend: indexer, trainer, matcher, API.",
    ),
    "job": (
        "metainf_cli.job_cmd",
        "job",
        "Client side: submit paid jobs and fetch verified results.",
    ),
    "audit": (
        "metainf_cli.audit_cmd",
        "audit",
        "Auditor: verify attestations and results, challenge cheaters.",
    ),
    "demo": (
        "metainf_cli.demo_cmd",
        "demo",
        "One marketplace round on the embedded default stack.",
    ),
}


class LazyGroup(click.Group):
    """A click group whose sub-groups are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(
            name for name, (mod, _, _) in _GROUPS.items() if importlib.util.find_spec(mod)
        )

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _GROUPS:
            return None
        module_name, attr, _ = _GROUPS[cmd_name]
        if importlib.util.find_spec(module_name) is None:
            return None
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _GROUPS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup)
def cli() -> None:
    """MetaInf Market: a decentralized marketplace for LLM inference."""


if __name__ == "__main__":
    cli()
