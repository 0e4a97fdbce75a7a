"""Imports every architecture module so that its ``@register`` decorators run (one line per file)."""
