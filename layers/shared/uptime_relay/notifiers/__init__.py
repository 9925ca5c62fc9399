"""Notification channels: one module per channel type behind notifiers.base.Notifier."""
