"""The one shape every component has: its args validated once at the edge, or its model handed over.

``Component(name, args)`` is what other stacks (and the schema) see: ``__init__`` turns the
args into the model (``spec.validate_*``), raising before anything is registered. A caller
that already holds the model (``SecretsPlatform``, for its children) uses ``Component.of(name,
model)``, which registers from it without validating again. Either way ``_build`` does the
registering, from the model only.
"""

from typing import Any, Self

import pulumi


class Component(pulumi.ComponentResource):
    """A component registered from its validated model."""

    @classmethod
    def of(cls, name: str, model: Any, opts: pulumi.ResourceOptions | None = None) -> Self:
        """The component built from an already validated model (nothing is checked again)."""
        component = cls.__new__(cls)
        component._build(name, model, opts)
        return component

    def _build(self, name: str, model: Any, opts: pulumi.ResourceOptions | None) -> None:
        raise NotImplementedError
