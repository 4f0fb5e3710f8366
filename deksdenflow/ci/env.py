"""What the CI job tells about itself through its environment (GitHub Actions, GitLab CI)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel


class CiContext(BaseModel):
    provider: str = "local"
    branch: str = ""
    url: str = ""
    commit: str = ""
    job: str = ""


def detect(env: Mapping[str, str] | None = None) -> CiContext:
    """Read the provider's variables; an empty field when the job does not say."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITHUB_RUN_ID"):
        return _github(env)
    if env.get("GITLAB_CI") == "true" or env.get("CI_PIPELINE_URL"):
        return _gitlab(env)
    return CiContext()


def _github(env: Mapping[str, str]) -> CiContext:
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repo, run_id = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", "")
    url = f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else ""
    # On pull_request events GITHUB_REF_NAME is "<n>/merge"; the head ref is the branch.
    branch = env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME", "")
    return CiContext(provider="github", branch=branch, url=url,
                     commit=env.get("GITHUB_SHA", ""), job=run_id)


def _gitlab(env: Mapping[str, str]) -> CiContext:
    branch = env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or env.get("CI_COMMIT_REF_NAME", "")
    return CiContext(provider="gitlab", branch=branch, url=env.get("CI_PIPELINE_URL", ""),
                     commit=env.get("CI_COMMIT_SHA", ""),
                     job=env.get("CI_JOB_ID") or env.get("CI_PIPELINE_ID", ""))
