"""The secrets-platform CrossGuard policy pack (`pulumi preview --policy-pack policies`).

Rules are plain functions grouped by target (``vault``, ``kubernetes``, ``external_secrets``,
``csi``, ``stack``) over the pure core (``core``); ``adapters`` turns them into the policy
SDK's policies, ``pack`` assembles them, ``__main__`` serves them to the engine and
``runner`` runs them in-process for the offline plan.
"""
