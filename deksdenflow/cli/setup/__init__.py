"""The commands that set a repository up: init, doctor, demo, project, config, projects and
trust."""
