"""Another clone's state coming in: the trust check, the merge, the integration, who changed
settings."""
