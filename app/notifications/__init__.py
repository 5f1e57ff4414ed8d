"""Notifications, webhooks and invitations: what Board3 tells people and other systems about the
domain events of an organization, and how people are invited into one."""
