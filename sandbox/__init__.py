"""A local sandbox: OpenBao (and PostgreSQL) on loopback, a stack deployed for real with the built engine.

``python -m sandbox up`` / ``down``; the engine tier's tests run the same servers and the same engine.
"""
