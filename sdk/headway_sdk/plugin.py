"""The SDK's own headway plugin: it adds ``headway plugin new``."""
