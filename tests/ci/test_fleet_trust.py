"""`dflow init --ci --workers` never writes a CI secret name that an untrusted setting chose
(a teammate's engine whose key variable is a deploy token), nor one that is no variable."""
from __future__ import annotations

import pytest

from deksdenflow.ci import templates
from deksdenflow.context.project import Project
from deksdenflow.errors import ConfigError
from tests.workflow.conftest import configure
from tests.workflow.test_settings_trust_doors import _distrust

OPTIONS = '{api_key_env = "DEPLOY_TOKEN", base_url = "http://x", model_default = "m"}'


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_the_fleet_refuses_agent_secrets_chosen_by_origin(project: Project,
                                                          provider: str) -> None:
    configure(project, {"engines.api.kind": '"openai"', "engines.api.options": OPTIONS,
                        "phases.default": '"api"'})
    _distrust(project, "engines.api.kind", "engines.api.options", "phases.default")
    with pytest.raises(ConfigError, match="dflow trust"):
        templates.write(project, provider, workers=1)
    assert not (project.root / ".github").exists()


def test_a_key_variable_that_is_no_name_is_refused(project: Project) -> None:
    configure(project, {"engines.api.kind": '"openai"', "phases.default": '"api"',
                        "engines.api.options": OPTIONS.replace("DEPLOY_TOKEN", "X; curl evil")})
    with pytest.raises(ConfigError, match="is not a variable name"):
        templates.write(project, "gitlab", workers=1)
