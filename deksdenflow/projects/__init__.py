"""Every repository a person works on, from one place: the registry, onboarding, overviews."""
