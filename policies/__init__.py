"""The secrets-platform CrossGuard policy pack (`pulumi preview --policy-pack policies`).

Rules are plain functions grouped by target (``vault``, ``database``, ``stack``, ``external_secrets``,
``csi``, ``kubernetes``, ``charts``) over the pure core (``core``) and the readers that read values
as their consumers do (``values``, ``credentials``, ``vault_hcl``); ``catalog`` lists them (and
renders RULES.md). ``adapters`` turns them into the policy SDK's policies, ``pack`` assembles them and
``__main__`` serves them to the engine; ``runner`` drives that servicer in-process as the engine
would, and ``evaluate`` computes the same verdicts directly for the offline plan (``wire`` and
``inputs``: what the engine hands the pack; ``settings``: its config; ``verdicts``: the results).
"""
