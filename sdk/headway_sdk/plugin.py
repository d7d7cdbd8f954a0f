"""The SDK's own headway plugin, loaded through the ``headway`` entry point.

It implements no hook yet; the ``headway plugin new`` scaffolder command
will be registered here through ``register_commands``.
"""
